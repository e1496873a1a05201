//! What a hostile server sends cannot make the client slow to close, hold memory, hand out
//! events before their ID is published, or stop working: long IDs, floods of tiny events.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use sse_client::{Client, Event, Handler, Message};
use support::*;

/// A generous bound for "promptly": the fixed client takes milliseconds; the unfixed one
/// took seconds (it copied a 16 MB ID for every event while it held the close gate).
const PROMPTLY: Duration = Duration::from_secs(1);

/// `id: <len bytes>` and the blank line that commits it, without an event.
fn long_id_line(len: usize) -> String {
    format!("id: {}\n\n", "i".repeat(len))
}

/// Counts events, copies nothing (a recorder that copied each ID would be the slow part),
/// and runs `on_event` for each.
struct Counter {
    events: Arc<AtomicU64>,
    on_event: Box<dyn FnMut(&Event<'_>) + Send>,
}

impl Counter {
    fn new(on_event: impl FnMut(&Event<'_>) + Send + 'static) -> (Counter, Arc<AtomicU64>) {
        let events = Arc::new(AtomicU64::new(0));
        let counter = Counter {
            events: events.clone(),
            on_event: Box::new(on_event),
        };
        (counter, events)
    }
}

impl Handler for Counter {
    fn on_event(&mut self, event: &Event<'_>) {
        self.events.fetch_add(1, Ordering::SeqCst);
        (self.on_event)(event);
    }
}

/// A slot for the client, so that a callback can reach the client it belongs to.
type ClientSlot = Arc<OnceLock<Weak<Client>>>;

fn client_in(slot: &ClientSlot) -> Arc<Client> {
    assert!(wait_until(TIMEOUT, || slot.get().is_some()));
    slot.get().unwrap().upgrade().expect("the client is alive")
}

/// A server that sends a 16 MB ID, then tiny events as fast as the client reads them.
fn long_id_then_flood(id_len: usize) -> Server {
    let flood = "data: x\n\n".repeat(1000);
    Server::always(
        Script::new()
            .send(ok_stream())
            .send(long_id_line(id_len))
            .repeat(flood, Duration::ZERO, 1_000_000),
    )
}

fn timed(what: &str, f: impl FnOnce() + Send + 'static) -> Duration {
    within(Duration::from_secs(60), what, f).1
}

/// Closes `client` while its stream flows, then drops it: each must be prompt.
fn close_then_drop_promptly(client: Arc<Client>) {
    let closing = client.clone();
    let close = timed("close()", move || closing.close());
    let drop_took = timed("drop", move || drop(client));
    assert!(close < PROMPTLY, "close() took {close:?}");
    assert!(drop_took < PROMPTLY, "drop took {drop_took:?}");
}

#[test]
fn close_and_drop_are_prompt_after_a_16_mb_id_in_callback_mode() {
    let server = long_id_then_flood(16_000_000);
    let (counter, events) = Counter::new(|_| {});
    let client = Arc::new(Client::open(&fast_config(&server.url("/")), counter).unwrap());
    assert!(
        wait_until(Duration::from_secs(30), || events.load(Ordering::SeqCst)
            >= 2_000),
        "only {} events",
        events.load(Ordering::SeqCst)
    );
    close_then_drop_promptly(client);
}

#[test]
fn close_and_drop_are_prompt_after_a_16_mb_id_in_poll_mode() {
    let server = long_id_then_flood(16_000_000);
    let client = Arc::new(Client::open_polled(&fast_config(&server.url("/"))).unwrap());
    let mut events = 0;
    while events < 2_000 {
        let taken = client.poll_all(Some(Duration::from_secs(30))).unwrap();
        events += taken
            .iter()
            .filter(|m| matches!(m, sse_client::BatchMessage::Event { .. }))
            .count();
    }
    close_then_drop_promptly(client);
}

#[test]
fn a_close_from_a_callback_leaves_the_rest_of_the_read_unparsed() {
    // One write: a 1 MiB ID, then 5,000 events, most of them in the same read as the first.
    let burst = long_id_line(1 << 20) + &"data: x\n\n".repeat(5_000);
    let server = Server::always(Script::stream_then_hold(burst));
    let slot = ClientSlot::default();
    let (counter, delivered) = {
        let slot = slot.clone();
        Counter::new(move |_| client_in(&slot).close())
    };
    let client = Arc::new(Client::open(&fast_config(&server.url("/")), counter).unwrap());
    slot.set(Arc::downgrade(&client)).unwrap();
    assert!(wait_until(TIMEOUT, || delivered.load(Ordering::SeqCst) == 1));
    // The worker publishes its counts at the end of the read it was in: wait for them, and
    // a little more in case a later read were counted too.
    assert!(wait_until(TIMEOUT, || client.stats().events > 0));
    std::thread::sleep(ms(100));
    let parsed = client.stats().events;
    assert_eq!(
        parsed, 1,
        "the worker parsed {parsed} events of the read after the close"
    );
    assert_eq!(delivered.load(Ordering::SeqCst), 1);
}

#[test]
fn a_long_id_is_shared_by_the_queued_events_not_copied_into_each() {
    let burst = long_id_line(100_000) + &"data: x\n\n".repeat(50);
    let server = Server::always(Script::stream_then_hold(burst));
    let client = Client::open_polled(&fast_config(&server.url("/"))).unwrap();
    // Taken one at a time, as owned messages: one copy.
    let mut owned = Vec::new();
    while owned.len() < 25 {
        if let Message::Event(event) = client.poll(Some(TIMEOUT)).unwrap() {
            owned.push(event);
        }
    }
    let first = owned[0].as_event().id.as_bytes_with_nul().as_ptr() as usize;
    for event in &owned {
        assert_eq!(event.as_event().id.len(), 100_000);
        assert_eq!(
            event.as_event().id.as_bytes_with_nul().as_ptr() as usize,
            first
        );
    }
    // Taken whole, the rest: events of one batch or several, still that one copy.
    let mut ids = Vec::new();
    while ids.len() < 25 {
        let taken = client.poll_all(Some(TIMEOUT)).unwrap();
        for message in taken.iter() {
            if let sse_client::BatchMessage::Event { event, .. } = message {
                assert_eq!(event.id.len(), 100_000);
                ids.push(event.id.as_bytes_with_nul().as_ptr() as usize);
            }
        }
    }
    assert!(
        ids.iter().all(|&id| id == first),
        "copies: {ids:?}, first {first}"
    );
}

/// `count` events whose IDs count up from 1, in one burst.
fn counted_events(count: u64) -> String {
    (1..=count)
        .map(|n| format!("id: {n}\ndata: x\n\n"))
        .collect()
}

#[test]
fn poll_mode_never_hands_out_an_event_before_its_id_is_published() {
    const COUNT: u64 = 20_000;
    let server = Server::always(Script::stream_then_hold(counted_events(COUNT)));
    let mut config = fast_config(&server.url("/"));
    // A small queue fills in the middle of every read: that flushed events whose ID was
    // published only at the end of the read.
    config.set_queue_capacity(64).unwrap();
    let client = Client::open_polled(&config).unwrap();
    let (mut seen, mut early) = (0, Vec::new());
    while seen < COUNT {
        let Message::Event(event) = client.poll(Some(TIMEOUT)).unwrap() else {
            continue;
        };
        let id: u64 = event.as_event().id.as_str().parse().unwrap();
        // "" (nothing published yet) counts as 0.
        let shown: u64 = client.last_event_id().parse().unwrap_or(0);
        if shown < id {
            early.push((id, shown));
        }
        seen = id;
    }
    assert!(
        early.is_empty(),
        "{} of {COUNT} events came before their ID was published, e.g. {:?}",
        early.len(),
        &early[..early.len().min(5)]
    );
}

#[test]
fn callback_mode_never_hands_out_an_event_before_its_id_is_published() {
    const COUNT: u64 = 20_000;
    let server = Server::always(Script::stream_then_hold(counted_events(COUNT)));
    let slot = ClientSlot::default();
    let early = Arc::new(Mutex::new(Vec::new()));
    let (counter, events) = {
        let (slot, early) = (slot.clone(), early.clone());
        Counter::new(move |event| {
            let id: u64 = event.id.as_str().parse().unwrap();
            let shown: u64 = client_in(&slot).last_event_id().parse().unwrap_or(0);
            if shown < id {
                early.lock().unwrap().push((id, shown));
            }
        })
    };
    let client = Arc::new(Client::open(&fast_config(&server.url("/")), counter).unwrap());
    slot.set(Arc::downgrade(&client)).unwrap();
    assert!(wait_until(Duration::from_secs(30), || events
        .load(Ordering::SeqCst)
        == COUNT));
    assert!(early.lock().unwrap().is_empty(), "{:?}", early.lock());
}

// ---- What the client sends back: long or odd IDs, oversized heads ----------------------

/// Warnings the library logged, for the tests that count them (this binary's logger).
mod warnings {
    use std::sync::{Mutex, Once};

    static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

    struct Capture;

    impl log::Log for Capture {
        fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
            metadata.level() <= log::Level::Warn
        }
        fn log(&self, record: &log::Record<'_>) {
            if self.enabled(record.metadata()) {
                RECORDS.lock().unwrap().push(record.args().to_string());
            }
        }
        fn flush(&self) {}
    }

    pub fn capture() {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            log::set_logger(&Capture).unwrap();
            log::set_max_level(log::LevelFilter::Warn);
        });
    }

    /// The warnings so far that contain `text` (tests run in parallel: pick a unique one,
    /// such as the server's URL).
    pub fn containing(text: &str) -> Vec<String> {
        let records = RECORDS.lock().unwrap();
        records
            .iter()
            .filter(|r| r.contains(text))
            .cloned()
            .collect()
    }
}

/// Connection 0 sends `first` and ends; every later one sends "data: again" and ends.
fn first_then_again(first: String) -> Server {
    Server::routed(move |_, n| match n {
        0 => Script::stream(first.clone()),
        _ => Script::stream("data: again\n\n"),
    })
}

/// Polls or records until `count` events with data "again" arrived (both modes), so that
/// at least `count + 1` requests were made.
fn expect_reconnects(server: &Server, polled: bool, count: usize) {
    let mut config = fast_config(&server.url("/"));
    config.set_reconnect_delay(ms(10), ms(10)).unwrap();
    if polled {
        let client = Client::open_polled(&config).unwrap();
        let mut again = 0;
        while again < count {
            if let Message::Event(event) = client.poll(Some(TIMEOUT)).unwrap() {
                again += usize::from(event.as_event().data == "again");
            }
        }
    } else {
        let (log, recorder) = Log::new();
        let client = Client::open(&config, recorder).unwrap();
        log.wait_for(|records| {
            records
                .iter()
                .filter(|r| matches!(&r.record, Record::Event(e) if e.data == "again"))
                .count()
                >= count
        });
        drop(client);
    }
}

#[test]
fn a_server_id_too_long_to_send_is_left_out_and_the_client_keeps_working() {
    warnings::capture();
    for polled in [false, true] {
        let long = "L".repeat(17_000);
        let server = first_then_again(format!("id: {long}\ndata: first\n\n"));
        expect_reconnects(&server, polled, 3);
        let requests = server.requests();
        assert!(requests.len() >= 4, "{} requests", requests.len());
        for request in &requests {
            assert_eq!(request.header("last-event-id"), None, "polled {polled}");
        }
        let logged =
            warnings::containing(&format!("{} is not sent as Last-Event-ID", server.url("/")));
        assert_eq!(
            logged.len(),
            1,
            "logged once, not per reconnect: {logged:?}"
        );
        assert!(logged[0].contains("17000 bytes"), "{}", logged[0]);
    }
}

#[test]
fn a_server_id_with_control_characters_is_left_out_and_logged_once() {
    warnings::capture();
    for polled in [false, true] {
        let server = first_then_again("id: a\u{1}z\ndata: first\n\n".to_owned());
        expect_reconnects(&server, polled, 3);
        for request in server.requests() {
            assert_eq!(request.header("last-event-id"), None);
        }
        let logged =
            warnings::containing(&format!("{} is not sent as Last-Event-ID", server.url("/")));
        assert_eq!(logged.len(), 1, "{logged:?}");
        assert!(logged[0].contains("control character"), "{}", logged[0]);
    }
}

#[test]
fn ids_up_to_the_limit_are_sent_and_utf8_ones_as_utf8() {
    for (id, polled) in [("x".repeat(4096), false), ("é-ü-€".to_owned(), true)] {
        let server = first_then_again(format!("id: {id}\ndata: first\n\n"));
        expect_reconnects(&server, polled, 1);
        let requests = server.requests();
        assert_eq!(requests[0].header("last-event-id"), None);
        assert_eq!(requests[1].header("last-event-id"), Some(id.as_str()));
    }
}

#[test]
fn a_request_hook_that_overflows_the_head_gets_an_error_and_nothing_is_sent() {
    struct Bloat;
    impl sse_client::RequestHook for Bloat {
        fn before_request(&self, request: &mut sse_client::RequestInfo<'_>) {
            request.set_header("X-Bloat", &"b".repeat(20_000)).unwrap();
        }
    }
    let server = Server::always(Script::stream_then_hold("data: never\n\n"));
    let mut config = fast_config(&server.url("/"));
    config.set_request_hook(Some(Arc::new(Bloat)));
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();
    let error = log.expect_error_of(sse_client::ErrorKind::Connect, true);
    assert!(
        error.message.contains("request hook") && error.message.contains("16384"),
        "{}",
        error.message
    );
    assert_eq!(server.connection_count(), 0, "nothing was sent");
}

#[test]
fn a_redirect_to_a_url_too_long_to_send_is_refused() {
    let location = format!("/{}", "r".repeat(12_500));
    let server = Server::routed(move |_, _| Script::status(302, &[("Location", &location)]));
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();
    let error = log.expect_error_of(sse_client::ErrorKind::HttpStatus, false);
    assert!(
        error.message.contains("too long to send"),
        "{}",
        error.message
    );
    assert_eq!(
        server.connection_count(),
        1,
        "the redirect was not followed"
    );
}

// ---- What the server answers with ----------------------------------------------------

#[test]
fn a_compressed_event_stream_is_refused_not_parsed() {
    for (header, coding) in [
        ("Content-Encoding", "gzip"),
        ("Content-Encoding", "identity, br"),
        ("Transfer-Encoding", "gzip, chunked"),
    ] {
        for polled in [false, true] {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n{header}: {coding}\r\n\
                 Connection: close\r\n\r\n"
            );
            let server = Server::always(
                Script::new()
                    .send(head)
                    .send(b"\x1f\x8b\x08\x00data: looks like text\n\n")
                    .hold_open(),
            );
            let config = fast_config(&server.url("/"));
            let records = if polled {
                let client = Client::open_polled(&config).unwrap();
                let mut records = Vec::new();
                while let Ok(message) = client.poll(Some(TIMEOUT)) {
                    records.push(Record::from_message(message));
                }
                records
            } else {
                let (mut log, recorder) = Log::new();
                let _client = Client::open(&config, recorder).unwrap();
                log.skip_until(|r| matches!(r, Record::State(sse_client::ReadyState::Closed)));
                log.all()
            };
            let errors: Vec<_> = records.iter().filter_map(Record::as_error).collect();
            assert_eq!(
                errors.len(),
                1,
                "{header}: {coding}, polled {polled}: {records:?}"
            );
            let error = errors[0];
            assert_eq!(error.kind, sse_client::ErrorKind::ContentType);
            assert!(!error.will_retry);
            let named = coding
                .split(", ")
                .find(|c| *c != "identity" && *c != "chunked");
            assert!(error.message.contains(named.unwrap()), "{}", error.message);
            assert!(!records.iter().any(Record::is_event), "{records:?}");
            assert!(!records.contains(&Record::Open(200)), "{records:?}");
        }
    }
}
