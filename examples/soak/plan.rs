//! What a mode means in numbers: from the options to one run's plan (how many clients, how
//! they take their messages, how the server paces and drops, when the run is over). Pure:
//! the options in, a plan out.

use std::time::Duration;

use crate::options::{Delivery, Options};
use crate::server::ServerSettings;

pub struct Plan {
    pub name: String,
    pub clients: usize,
    pub delivery: Delivery,
    pub server: ServerSettings,
    /// single: run until this many events and reconnects; many: run for a duration.
    pub until: Until,
}

pub enum Until {
    Counts { events: u64, reconnects: u64 },
    Elapsed(Duration),
}

/// One client until it has both counts: the server drops every `events / (reconnects + 1)`
/// events, so that the two are reached together; `--seconds` spreads the events out
/// (default 0: as fast as the client takes them).
pub fn single_plan(options: &Options) -> Plan {
    let reconnects = options.reconnects.unwrap_or(2_000);
    let drop_every = (options.events / (reconnects + 1)).max(1);
    let seconds = options.seconds.unwrap_or(0.0);
    Plan {
        name: format!(
            "single: 1 client, {} events, {} reconnects",
            options.events, reconnects
        ),
        clients: 1,
        delivery: options.delivery.unwrap_or(Delivery::Callback),
        server: ServerSettings {
            drop_every,
            interval: Duration::from_secs_f64(seconds / options.events as f64),
        },
        until: Until::Counts {
            events: options.events,
            reconnects,
        },
    }
}

/// A herd: every client opens at once, gets `--rate` events per second, and is dropped
/// about `--reconnects` times in `--seconds`, all at the same moments (the connections
/// start together and run the same schedule).
pub fn many_plan(options: &Options) -> Plan {
    let reconnects = options.reconnects.unwrap_or(10);
    let seconds = options.seconds.unwrap_or(30.0).max(0.1);
    let per_client = (options.rate as f64 * seconds) as u64;
    Plan {
        name: format!(
            "many: {} clients, {seconds} s at {} events/s each, ~{reconnects} reconnects each",
            options.clients, options.rate
        ),
        clients: options.clients,
        delivery: options.delivery.unwrap_or(Delivery::Mixed),
        server: ServerSettings {
            drop_every: (per_client / (reconnects + 1)).max(1),
            interval: Duration::from_secs_f64(1.0 / options.rate as f64),
        },
        until: Until::Elapsed(Duration::from_secs_f64(seconds)),
    }
}
