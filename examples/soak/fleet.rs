//! The clients of one run and the two ways a host takes their messages: callbacks on each
//! client's worker thread, or one poll thread that drains every polled client's queue (as a
//! host with an event loop would). Both feed the same oracle, so a difference between the
//! delivery paths shows up as a failed check, not as a different test.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use sse_client::{Client, ClientError, Config, Event, Handler, Stats};

use crate::options::Delivery;
use crate::oracle::{Checker, Tally, Totals};

/// Callback mode: the checker runs on the client's worker thread, in its callbacks.
struct Callbacks(Checker);

impl Handler for Callbacks {
    fn on_open(&mut self, _http_status: u16) {
        self.0.open();
    }
    fn on_event(&mut self, event: &Event<'_>) {
        self.0.event(event);
    }
    fn on_error(&mut self, error: &ClientError) {
        self.0.error(error);
    }
}

/// The clients of one run, and the thread that drains the polled ones.
pub struct Fleet {
    clients: Vec<Arc<Client>>,
    /// One per client, in the order they were opened; `single` watches the first.
    pub tallies: Vec<Arc<Tally>>,
    drainer: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Fleet {
    pub fn open(url: &str, count: usize, delivery: Delivery, totals: &Arc<Totals>) -> Fleet {
        let mut config = Config::new(url).expect("a loopback URL is valid");
        // Short delays: thousands of reconnects in a run of a minute or so.
        config
            .set_reconnect_delay(Duration::from_millis(10), Duration::from_millis(100))
            .expect("10 ms <= 100 ms");
        config.set_proxy_from_env(false);
        let mut fleet = Fleet {
            clients: Vec::with_capacity(count),
            tallies: Vec::with_capacity(count),
            drainer: None,
        };
        let mut polled = Vec::new();
        for index in 0..count {
            let tally = Arc::new(Tally::default());
            let checker = Checker::new(tally.clone(), totals.clone());
            let opened = match delivery.polled(index) {
                true => Client::open_polled(&config).map(|client| {
                    let client = Arc::new(client);
                    polled.push((client.clone(), checker));
                    client
                }),
                false => Client::open(&config, Callbacks(checker)).map(Arc::new),
            };
            let client = opened.unwrap_or_else(|error| {
                eprintln!("soak: cannot open client {index}: {error}");
                std::process::exit(1);
            });
            fleet.clients.push(client);
            fleet.tallies.push(tally);
        }
        if !polled.is_empty() {
            let stop = Arc::new(AtomicBool::new(false));
            let handle = {
                let stop = stop.clone();
                thread::Builder::new()
                    .name("soak-poll".into())
                    .spawn(move || drain(polled, &stop))
                    .expect("cannot start the poll thread")
            };
            fleet.drainer = Some((stop, handle));
        }
        fleet
    }

    pub fn stats(&self) -> Vec<Stats> {
        self.clients.iter().map(|c| c.stats()).collect()
    }

    /// Closes every client, stops the drainer and drops the clients (which joins their
    /// workers); returns how long that took.
    pub fn close(mut self) -> Duration {
        let started = Instant::now();
        for client in &self.clients {
            client.close();
        }
        if let Some((stop, handle)) = self.drainer.take() {
            stop.store(true, Relaxed);
            let _ = handle.join();
        }
        drop(std::mem::take(&mut self.clients));
        started.elapsed()
    }
}

/// The poll-mode host: takes every queued message of every polled client.
fn drain(mut polled: Vec<(Arc<Client>, Checker)>, stop: &AtomicBool) {
    // One client: block on its queue. Several: visit each, nap when all were empty.
    let first_wait = match polled.len() {
        1 => Some(Duration::from_millis(50)),
        _ => Some(Duration::ZERO),
    };
    while !stop.load(Relaxed) {
        let mut handled = 0usize;
        for (client, checker) in &mut polled {
            let mut wait = first_wait;
            while let Ok(message) = client.poll(wait) {
                checker.message(&message);
                handled += 1;
                wait = Some(Duration::ZERO);
            }
        }
        if handled == 0 && polled.len() > 1 {
            thread::sleep(Duration::from_millis(1));
        }
    }
}
