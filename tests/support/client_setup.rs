//! The client configuration most tests start from.

use std::time::Duration;

use sse_client::Config;

use crate::support::waits::ms;

/// A configuration for `url` with short reconnect delays (10 ms, doubling up to 100 ms)
/// and a 5 s connect timeout.
pub fn fast_config(url: &str) -> Config {
    let mut config = Config::new(url).expect("valid URL");
    config.set_reconnect_delay(ms(10), ms(100)).unwrap();
    config.set_connect_timeout(Some(Duration::from_secs(5)));
    config
}
