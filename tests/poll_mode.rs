//! Poll mode: the bounded queue, its wakeup handle, backpressure, and how a poll ends.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sse_client::{Client, ErrorKind, PollError, ReadyState};
use support::*;

const PROMPTLY: Duration = Duration::from_secs(2);

fn poll_record(client: &Client) -> Record {
    match client.poll(Some(TIMEOUT)) {
        Ok(message) => Record::from_message(message),
        Err(e) => panic!("expected a message within {TIMEOUT:?}, got {e:?}"),
    }
}

#[test]
fn poll_mode_delivers_events_and_the_wakeup_handle_tracks_the_queue() {
    let server = Server::always(Script::stream_then_hold(
        "id: 1\ndata: a\n\nevent: t\ndata: b\n\n: note\n",
    ));
    let client = Client::open_polled(&fast_config(&server.url("/"))).unwrap();
    let handle = client
        .wakeup_handle()
        .expect("poll mode has a wakeup handle");

    let expected = [
        Record::Open(200),
        Record::State(ReadyState::Open),
        Record::Event(Ev::message("a", "1")),
        Record::Event(Ev::new("t", "b", "1")),
        Record::Comment("note".into()),
    ];
    for want in &expected {
        assert!(
            handle_readable(handle, TIMEOUT),
            "the wakeup handle did not become readable while {want:?} was due"
        );
        // Readable means a message is there now: a zero-timeout poll must get it.
        let got = client
            .poll(Some(Duration::ZERO))
            .map(Record::from_message)
            .unwrap_or_else(|e| panic!("handle readable but poll(0) gave {e:?}"));
        assert_eq!(&got, want);
    }
    assert!(
        !handle_readable(handle, ms(100)),
        "the wakeup handle stays readable after the queue was drained"
    );
    assert_eq!(client.poll(Some(Duration::ZERO)), Err(PollError::Timeout));
    assert_eq!(client.ready_state(), ReadyState::Open);
    assert_eq!(client.last_event_id(), "1");
}

#[test]
fn wakeup_handle_becomes_readable_again_for_later_messages() {
    let server = Server::always(
        Script::new()
            .send(ok_stream())
            .send("data: first\n\n")
            .sleep(ms(150))
            .send("data: second\n\n")
            .hold_open(),
    );
    let client = Client::open_polled(&fast_config(&server.url("/"))).unwrap();
    let handle = client.wakeup_handle().unwrap();

    assert_eq!(poll_record(&client), Record::Open(200));
    assert_eq!(poll_record(&client), Record::State(ReadyState::Open));
    assert_eq!(
        poll_record(&client),
        Record::Event(Ev::message("first", ""))
    );
    assert!(
        handle_readable(handle, TIMEOUT),
        "handle not readable for the second event"
    );
    assert_eq!(
        client.poll(Some(Duration::ZERO)).map(Record::from_message),
        Ok(Record::Event(Ev::message("second", "")))
    );
    assert!(!handle_readable(handle, ms(50)));
}

/// The worker queues a read's events and announces them when it is about to wait for the
/// network. Here the socket still holds bytes after the event (the chunk's closing CRLF,
/// sent later than its data), but they make no body bytes, so the next read waits: the
/// event must be announced before it does, not when the next chunk comes.
#[test]
fn an_event_is_announced_before_the_worker_waits_for_the_rest_of_its_chunk() {
    let first = "data: early\n\n";
    let server = Server::always(
        Script::new()
            .send(ok_stream_chunked())
            .send(format!("{:x}\r\n{first}", first.len()))
            .sleep(ms(20))
            .send("\r\n")
            .sleep(ms(3000))
            .send(chunk("data: late\n\n"))
            .hold_open(),
    );
    let client = Client::open_polled(&fast_config(&server.url("/"))).unwrap();
    let handle = client.wakeup_handle().unwrap();
    assert_eq!(poll_record(&client), Record::Open(200));
    assert_eq!(poll_record(&client), Record::State(ReadyState::Open));
    let started = Instant::now();
    assert!(
        handle_readable(handle, TIMEOUT),
        "the event was never announced"
    );
    assert!(
        started.elapsed() < ms(2000),
        "the event was announced only with the next chunk, after {:?}",
        started.elapsed()
    );
    assert_eq!(
        client.poll(Some(Duration::ZERO)).map(Record::from_message),
        Ok(Record::Event(Ev::message("early", "")))
    );
    assert_eq!(poll_record(&client), Record::Event(Ev::message("late", "")));
}

#[test]
fn poll_times_out_when_nothing_is_queued() {
    let server = Server::always(Script::silent());
    let client = Client::open_polled(&fast_config(&server.url("/"))).unwrap();
    let handle = client.wakeup_handle().unwrap();

    assert_eq!(client.poll(Some(Duration::ZERO)), Err(PollError::Timeout));
    let started = Instant::now();
    assert_eq!(client.poll(Some(ms(100))), Err(PollError::Timeout));
    assert!(
        started.elapsed() >= ms(90),
        "poll(100 ms) returned after {:?}",
        started.elapsed()
    );
    assert!(!handle_readable(handle, Duration::ZERO));
    assert_eq!(client.ready_state(), ReadyState::Connecting);
}

#[test]
fn callback_mode_client_has_no_queue() {
    let server = Server::always(Script::silent());
    let (_log, recorder) = Log::new();
    let client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();
    assert_eq!(client.poll(Some(Duration::ZERO)), Err(PollError::WrongMode));
    assert_eq!(client.poll(None), Err(PollError::WrongMode));
    assert_eq!(client.wakeup_handle(), None);
}

#[test]
fn small_queue_applies_backpressure_without_losing_events() {
    let stream: String = (0..100)
        .map(|i| format!("id: {i}\ndata: event {i}\n\n"))
        .collect();
    let server = Server::always(Script::stream_then_hold(stream));
    let mut config = fast_config(&server.url("/"));
    config.set_queue_capacity(2).unwrap();
    let client = Client::open_polled(&config).unwrap();

    assert_eq!(poll_record(&client), Record::Open(200));
    assert_eq!(poll_record(&client), Record::State(ReadyState::Open));
    // Let the worker fill the queue and block on it.
    std::thread::sleep(ms(100));
    for i in 0..100 {
        let want = Record::Event(Ev::message(&format!("event {i}"), &i.to_string()));
        assert_eq!(poll_record(&client), want);
        if i % 10 == 0 {
            std::thread::sleep(ms(5));
        }
    }
    assert_eq!(client.poll(Some(ms(50))), Err(PollError::Timeout));
    assert_eq!(
        server.connection_count(),
        1,
        "backpressure must not drop the stream"
    );
}

#[test]
fn poll_after_give_up_drains_error_and_closed_then_reports_closed() {
    let server = Server::always(Script::status(404, &[]));
    let client = Client::open_polled(&fast_config(&server.url("/"))).unwrap();
    let handle = client.wakeup_handle().unwrap();

    match poll_record(&client) {
        Record::Error(error) => {
            assert_eq!(error.kind, ErrorKind::HttpStatus);
            assert_eq!(error.http_status, 404);
            assert!(!error.will_retry);
        }
        other => panic!("expected the 404 error, got {other:?}"),
    }
    assert_eq!(poll_record(&client), Record::State(ReadyState::Closed));
    let started = Instant::now();
    assert_eq!(client.poll(Some(TIMEOUT)), Err(PollError::Closed));
    assert!(
        started.elapsed() < PROMPTLY,
        "poll waited {:?} on a finished client",
        started.elapsed()
    );
    assert_eq!(client.poll(Some(Duration::ZERO)), Err(PollError::Closed));
    assert_eq!(client.poll(None), Err(PollError::Closed));
    assert!(!handle_readable(handle, Duration::ZERO));
    assert_eq!(client.ready_state(), ReadyState::Closed);
}

#[test]
fn blocked_poll_returns_closed_when_the_host_closes() {
    let server = Server::always(Script::stream_then_hold(""));
    let client = Arc::new(Client::open_polled(&fast_config(&server.url("/"))).unwrap());
    assert_eq!(poll_record(&client), Record::Open(200));
    assert_eq!(poll_record(&client), Record::State(ReadyState::Open));

    let poller = {
        let client = client.clone();
        std::thread::spawn(move || client.poll(None))
    };
    std::thread::sleep(ms(50));
    client.close();
    let (result, took) = within(Duration::from_secs(10), "poll(None)", move || {
        poller.join().unwrap()
    });
    assert_eq!(result, Err(PollError::Closed));
    assert!(took < PROMPTLY, "poll returned {took:?} after close");
    assert_eq!(client.poll(None), Err(PollError::Closed));
}

#[test]
fn messages_queued_before_close_are_still_handed_out() {
    let stream: String = (0..10).map(|i| format!("data: {i}\n\n")).collect();
    let server = Server::always(Script::stream_then_hold(stream));
    let mut config = fast_config(&server.url("/"));
    config.set_queue_capacity(4).unwrap();
    let client = Client::open_polled(&config).unwrap();
    let handle = client.wakeup_handle().unwrap();

    assert!(handle_readable(handle, TIMEOUT));
    std::thread::sleep(ms(100));
    client.close();

    let mut expected = vec![Record::Open(200), Record::State(ReadyState::Open)];
    expected.extend((0..10).map(|i| Record::Event(Ev::message(&i.to_string(), ""))));
    let mut got = Vec::new();
    loop {
        match client.poll(Some(TIMEOUT)) {
            Ok(message) => got.push(Record::from_message(message)),
            Err(PollError::Closed) => break,
            Err(e) => panic!("expected messages then Closed, got {e:?} after {got:?}"),
        }
    }
    assert!(!got.is_empty(), "the queued Open was lost");
    assert!(
        got.len() <= 4,
        "more messages than the queue holds: {got:?}"
    );
    assert_eq!(got, expected[..got.len()], "queued messages out of order");
}

#[test]
fn dropping_a_client_blocked_on_a_full_queue_joins_promptly() {
    let stream: String = (0..100).map(|i| format!("data: {i}\n\n")).collect();
    let server = Server::always(Script::stream_then_hold(stream));
    let mut config = fast_config(&server.url("/"));
    config.set_queue_capacity(1).unwrap();
    let client = Client::open_polled(&config).unwrap();

    assert!(handle_readable(client.wakeup_handle().unwrap(), TIMEOUT));
    std::thread::sleep(ms(100)); // the worker is now blocked on the full queue
    let (_, took) = within(Duration::from_secs(10), "drop", move || drop(client));
    assert!(took < PROMPTLY, "drop took {took:?}");
}

#[test]
fn poll_mode_reports_reconnects_in_order() {
    let server = Server::scripted(vec![
        Script::stream("id: 1\ndata: a\n\n"),
        Script::stream_then_hold("data: b\n\n"),
    ]);
    let client = Client::open_polled(&fast_config(&server.url("/"))).unwrap();

    assert_eq!(poll_record(&client), Record::Open(200));
    assert_eq!(poll_record(&client), Record::State(ReadyState::Open));
    assert_eq!(poll_record(&client), Record::Event(Ev::message("a", "1")));
    match poll_record(&client) {
        Record::Error(e) => assert_eq!((e.kind, e.will_retry), (ErrorKind::StreamEnded, true)),
        other => panic!("expected StreamEnded, got {other:?}"),
    }
    assert_eq!(poll_record(&client), Record::State(ReadyState::Connecting));
    assert_eq!(poll_record(&client), Record::Open(200));
    assert_eq!(poll_record(&client), Record::State(ReadyState::Open));
    assert_eq!(poll_record(&client), Record::Event(Ev::message("b", "1")));
    assert_eq!(
        server.wait_for_requests(2, TIMEOUT)[1].header("last-event-id"),
        Some("1")
    );
}

#[test]
fn wakeup_handle_is_not_left_readable_by_a_host_polling_concurrently() {
    // The host polls as fast as it can while the worker queues: once everything was taken
    // the handle must be unreadable again (readable exactly while messages are queued). The
    // race this probes is narrow (about one round in four hits it on a 2-CPU machine), so the
    // scenario runs 20 rounds.
    for round in 0..20 {
        if let Err(spurious) = drain_while_streaming(20_000) {
            panic!(
                "round {round}: the wakeup handle is readable with an empty queue after the host \
                 took every message ({spurious} wakeups without a message while draining); \
                 a level-triggered poll(2)/epoll host would now spin"
            );
        }
    }
}

/// Streams `count` events to a poll-mode client whose host polls without pause; Err(number
/// of spurious wakeups) when the handle is left readable with nothing queued.
fn drain_while_streaming(count: usize) -> Result<(), usize> {
    let stream: String = (0..count).map(|i| format!("data: {i}\n\n")).collect();
    let server = Server::always(Script::stream_then_hold(stream));
    let client = Client::open_polled(&fast_config(&server.url("/"))).unwrap();
    let handle = client.wakeup_handle().unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut events = 0;
    let mut spurious = 0usize;
    let mut readable_but_empty = false;
    while events < count {
        assert!(Instant::now() < deadline, "only {events} events arrived");
        match client.poll(Some(Duration::ZERO)) {
            Ok(message) => {
                readable_but_empty = false;
                if Record::from_message(message).is_event() {
                    events += 1;
                }
            }
            Err(PollError::Timeout) => {
                // A timeout right after the handle was seen readable with a timeout before it.
                if readable_but_empty {
                    spurious += 1;
                }
                readable_but_empty = handle_readable(handle, Duration::ZERO);
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(client.poll(Some(ms(20))), Err(PollError::Timeout));
    match handle_readable(handle, ms(20)) {
        true => Err(spurious),
        false => Ok(()),
    }
}
