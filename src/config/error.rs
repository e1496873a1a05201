//! [`ConfigError`]: why a setting was refused. A leaf: the settings' own modules (TLS,
//! proxy, hooks, request head) return it without knowing the [`Config`](super::Config)
//! that holds them.

/// Why a configuration value was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    InvalidUrl(String),
    InvalidArgument(String),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::InvalidUrl(m) | ConfigError::InvalidArgument(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ConfigError {}
