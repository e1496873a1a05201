//! [`ConfigError`]: why a setting was refused; [`Setting`] and [`Remedy`]: which setting
//! would fix an error, and where its message says so. A leaf: the settings' own modules
//! (TLS, proxy, hooks, request head) return these without knowing the
//! [`Config`](super::Config) that holds them.
//!
//! The core's messages are neutral: they say what happened and the remedy in plain words
//! ("add it to the trusted CA certificates"), never a binding's name for it. Each binding
//! knows a [`Setting`] by its own name (the C API's `sse_config_set_ca_file`, a wrapper's
//! setter) and adds that where the [`Remedy`] points.

/// A setting the host can change to fix what an error reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Setting {
    /// The extra CA certificates to trust ([`Config::add_ca_file`](super::Config::add_ca_file)).
    CaFile,
    /// The client certificate for mutual TLS
    /// ([`Config::set_client_cert_files`](super::Config::set_client_cert_files)).
    ClientCert,
    /// The last event ID ([`Config::set_last_event_id`](super::Config::set_last_event_id)).
    LastEventId,
    /// Sending a non-GET request again
    /// ([`Config::set_retry_non_get`](super::Config::set_retry_non_get)).
    RetryNonGet,
}

/// Where a message names, in neutral words, a [`Setting`] that would fix the error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Remedy {
    pub setting: Setting,
    /// The byte offset in the message just after those words: where a binding inserts its
    /// own name for the setting.
    pub at: usize,
}

impl Remedy {
    /// A remedy named by the last words of `message`.
    pub(crate) fn at_end_of(message: &str, setting: Setting) -> Remedy {
        Remedy {
            setting,
            at: message.len(),
        }
    }
}

/// Why a configuration value was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    InvalidUrl(String),
    InvalidArgument(String),
    /// The value belongs to another setting, which the message ends by naming (the
    /// `Last-Event-ID` header is the last event ID). An invalid argument to the C API.
    UseSetting {
        message: String,
        setting: Setting,
    },
}

impl ConfigError {
    /// What was refused and why, in neutral words.
    pub fn message(&self) -> &str {
        match self {
            ConfigError::InvalidUrl(m)
            | ConfigError::InvalidArgument(m)
            | ConfigError::UseSetting { message: m, .. } => m,
        }
    }

    /// The setting the message names as the fix, if any.
    pub fn remedy(&self) -> Option<Remedy> {
        match self {
            ConfigError::UseSetting { message, setting } => {
                Some(Remedy::at_end_of(message, *setting))
            }
            ConfigError::InvalidUrl(_) | ConfigError::InvalidArgument(_) => None,
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for ConfigError {}
