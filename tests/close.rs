//! Closing a client in each state, from inside a callback, and by dropping it: close returns
//! promptly and no callback runs after it.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sse_client::{Client, ErrorKind, ReadyState};
use support::*;

/// A generous bound for "promptly": the machine is shared, but the waits being interrupted
/// here are 30 s long.
const PROMPTLY: Duration = Duration::from_secs(2);

/// Closes `client` on a helper thread; panics unless close returns within [`PROMPTLY`].
fn close_promptly(client: &Arc<Client>) {
    let client = client.clone();
    let (_, took) = within(Duration::from_secs(10), "close()", move || client.close());
    assert!(took < PROMPTLY, "close() took {took:?}");
}

#[test]
fn close_while_connecting_returns_promptly() {
    let server = Server::always(Script::silent());
    let mut config = fast_config(&server.url("/"));
    config.set_connect_timeout(Some(Duration::from_secs(30)));
    let (mut log, recorder) = Log::new();
    let client = Arc::new(Client::open(&config, recorder).unwrap());

    server.wait_for_requests(1, TIMEOUT);
    assert_eq!(client.ready_state(), ReadyState::Connecting);
    close_promptly(&client);
    assert_eq!(client.ready_state(), ReadyState::Closed);
    log.expect_silence(ms(200));
    assert!(log.all().is_empty(), "{:?}", log.all());
    assert_eq!(server.connection_count(), 1);
    drop(client);
    assert!(
        server
            .wait_for(TIMEOUT, |c| c[0].ended_at.is_some())
            .is_ok(),
        "the client did not hang up"
    );
}

#[test]
fn close_while_reading_an_idle_stream_returns_promptly() {
    let server = Server::always(Script::stream_then_hold("data: one\n\n"));
    let (mut log, recorder) = Log::new();
    let client = Arc::new(Client::open(&fast_config(&server.url("/")), recorder).unwrap());

    log.expect_opened();
    log.expect_event(Ev::message("one", ""));
    assert_eq!(client.ready_state(), ReadyState::Open);
    close_promptly(&client);
    assert_eq!(client.ready_state(), ReadyState::Closed);
    // A close requested by the host is reported by neither on_error nor on_state.
    log.expect_silence(ms(200));
    assert!(
        server
            .wait_for(TIMEOUT, |c| c[0].ended_at.is_some())
            .is_ok(),
        "the stream's connection was not closed"
    );
    assert_eq!(server.connection_count(), 1);
}

#[test]
fn close_while_waiting_to_reconnect_returns_promptly() {
    let server = Server::always(Script::status(500, &[]));
    let mut config = fast_config(&server.url("/"));
    config
        .set_reconnect_delay(Duration::from_secs(30), Duration::from_secs(60))
        .unwrap();
    let (mut log, recorder) = Log::new();
    let client = Arc::new(Client::open(&config, recorder).unwrap());

    let error = log.expect_error_of(ErrorKind::HttpStatus, true);
    assert!(error.retry_delay >= Duration::from_secs(30), "{error:?}");
    close_promptly(&client);
    log.expect_silence(ms(200));
    assert_eq!(server.connection_count(), 1);
    assert_eq!(client.ready_state(), ReadyState::Closed);
}

#[test]
fn close_while_waiting_to_reconnect_after_an_open_stream() {
    let server = Server::scripted(vec![
        Script::stream("data: a\n\n"),
        Script::stream_then_hold("data: b\n\n"),
    ]);
    let mut config = fast_config(&server.url("/"));
    config
        .set_reconnect_delay(Duration::from_secs(30), Duration::from_secs(60))
        .unwrap();
    let (mut log, recorder) = Log::new();
    let client = Arc::new(Client::open(&config, recorder).unwrap());

    log.expect_opened();
    log.expect_event(Ev::message("a", ""));
    log.expect_error_of(ErrorKind::StreamEnded, true);
    log.expect(Record::State(ReadyState::Connecting));
    assert_eq!(client.ready_state(), ReadyState::Connecting);
    close_promptly(&client);
    log.expect_silence(ms(200));
    assert_eq!(server.connection_count(), 1);
}

#[test]
fn close_inside_on_event_does_not_deadlock_and_stops_callbacks() {
    let server = Server::always(Script::stream_then_hold(
        "data: 1\n\ndata: 2\n\ndata: 3\n\n",
    ));
    let slot: Arc<Mutex<Option<Weak<Client>>>> = Arc::new(Mutex::new(None));
    let (returned_tx, returned_rx) = crossbeam_channel::bounded(1);
    let (mut log, recorder) = Log::new();
    let recorder = {
        let slot = slot.clone();
        recorder.with_hook(move |record| {
            if matches!(record, Record::Event(ev) if ev.data == "1") {
                // The test stores the handle right after open; wait for it if needed.
                let client = wait_for_slot(&slot);
                client.close();
                assert_eq!(client.ready_state(), ReadyState::Closed);
                let _ = returned_tx.send(());
            }
        })
    };
    let client = Arc::new(Client::open(&fast_config(&server.url("/")), recorder).unwrap());
    *slot.lock().unwrap() = Some(Arc::downgrade(&client));

    returned_rx
        .recv_timeout(TIMEOUT)
        .expect("close() inside on_event did not return");
    expect_only_the_first_event(&mut log);
    // Dropping the handle joins the worker, which has finished its callback.
    let (_, took) = within(Duration::from_secs(10), "drop", move || drop(client));
    assert!(took < PROMPTLY, "drop took {took:?}");
}

/// The stream opened and delivered its first event, and nothing came after it: what a
/// callback that ends the client at that event must leave.
fn expect_only_the_first_event(log: &mut Log) {
    log.expect_silence(ms(200));
    assert_eq!(
        log.all(),
        [
            Record::Open(200),
            Record::State(ReadyState::Open),
            Record::Event(Ev::message("1", "")),
        ]
    );
}

fn wait_for_slot(slot: &Mutex<Option<Weak<Client>>>) -> Arc<Client> {
    let mut found = None;
    assert!(
        wait_until(TIMEOUT, || {
            found = slot.lock().unwrap().as_ref().and_then(Weak::upgrade);
            found.is_some()
        }),
        "the test never stored the client"
    );
    found.unwrap()
}

#[test]
fn close_waits_for_a_callback_in_flight() {
    let server = Server::always(Script::stream_then_hold("data: slow\n\ndata: next\n\n"));
    let finished = Arc::new(AtomicBool::new(false));
    let (started_tx, started_rx) = crossbeam_channel::bounded(1);
    let (mut log, recorder) = Log::new();
    let recorder = {
        let finished = finished.clone();
        recorder.with_hook(move |record| {
            if matches!(record, Record::Event(ev) if ev.data == "slow") {
                let _ = started_tx.send(());
                std::thread::sleep(ms(300));
                finished.store(true, Ordering::SeqCst);
            }
        })
    };
    let client = Arc::new(Client::open(&fast_config(&server.url("/")), recorder).unwrap());

    started_rx
        .recv_timeout(TIMEOUT)
        .expect("the slow callback never started");
    close_promptly(&client);
    assert!(
        finished.load(Ordering::SeqCst),
        "close() returned while a callback was still running"
    );
    log.expect_silence(ms(200));
    assert_eq!(
        log.all().last(),
        Some(&Record::Event(Ev::message("slow", ""))),
        "no callback may follow close(): {:?}",
        log.all()
    );
}

#[test]
fn dropping_the_client_while_streaming_joins_promptly() {
    let server = Server::always(Script::new().send(ok_stream()).repeat(
        "data: tick\n\n",
        ms(2),
        100_000,
    ));
    let (log, recorder) = Log::new();
    let client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();

    log.wait_for(|records| records.iter().filter(|r| r.record.is_event()).count() >= 10);
    let (_, took) = within(Duration::from_secs(10), "drop", move || drop(client));
    assert!(took < PROMPTLY, "drop took {took:?}");
    let after_drop = log.len();
    std::thread::sleep(ms(200));
    assert_eq!(
        log.len(),
        after_drop,
        "callbacks ran after the client was dropped"
    );
    assert!(
        server
            .wait_for(TIMEOUT, |c| c[0].ended_at.is_some())
            .is_ok(),
        "the connection outlived the client"
    );
}

#[test]
fn close_while_streaming_fast_stops_callbacks() {
    let server = Server::always(Script::new().send(ok_stream()).repeat(
        "data: tick\n\n",
        ms(1),
        100_000,
    ));
    let (log, recorder) = Log::new();
    let client = Arc::new(Client::open(&fast_config(&server.url("/")), recorder).unwrap());

    log.wait_for(|records| records.iter().filter(|r| r.record.is_event()).count() >= 10);
    close_promptly(&client);
    let after_close = log.len();
    std::thread::sleep(ms(200));
    assert_eq!(
        log.len(),
        after_close,
        "callbacks ran after close() returned"
    );
    let all = log.all();
    assert!(
        all[2..].iter().all(Record::is_event),
        "only events were expected after the open: {all:?}"
    );
}

#[test]
fn close_is_idempotent() {
    let server = Server::always(Script::stream_then_hold("id: 3\ndata: x\n\n"));
    let (mut log, recorder) = Log::new();
    let client = Arc::new(Client::open(&fast_config(&server.url("/")), recorder).unwrap());
    log.expect_opened();
    log.expect_event(Ev::message("x", "3"));

    close_promptly(&client);
    close_promptly(&client);
    assert_eq!(client.ready_state(), ReadyState::Closed);
    assert_eq!(client.last_event_id(), "3");
    log.expect_silence(ms(100));
}

#[test]
fn close_after_the_client_gave_up_is_harmless() {
    let server = Server::always(Script::status(404, &[]));
    let (mut log, recorder) = Log::new();
    let client = Arc::new(Client::open(&fast_config(&server.url("/")), recorder).unwrap());
    log.expect_error_of(ErrorKind::HttpStatus, false);
    log.expect(Record::State(ReadyState::Closed));

    close_promptly(&client);
    assert_eq!(client.ready_state(), ReadyState::Closed);
    log.expect_silence(ms(100));
}

/// A recorder whose hook closes the client (reached through `slot`) on the first record
/// that `when` accepts.
fn closing_recorder(
    recorder: Recorder,
    slot: Arc<Mutex<Option<Weak<Client>>>>,
    when: impl Fn(&Record) -> bool + Send + 'static,
    done: crossbeam_channel::Sender<()>,
) -> Recorder {
    recorder.with_hook(move |record| {
        if when(record) {
            wait_for_slot(&slot).close();
            let _ = done.send(());
        }
    })
}

#[test]
fn close_inside_on_error_stops_reconnecting() {
    let server = Server::always(Script::status(500, &[]));
    let slot = Arc::new(Mutex::new(None));
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    let (mut log, recorder) = Log::new();
    let recorder = closing_recorder(recorder, slot.clone(), Record::is_error, done_tx);
    let client = Arc::new(Client::open(&fast_config(&server.url("/")), recorder).unwrap());
    *slot.lock().unwrap() = Some(Arc::downgrade(&client));

    done_rx
        .recv_timeout(TIMEOUT)
        .expect("close() inside on_error did not return");
    log.expect_error_of(ErrorKind::HttpStatus, true);
    log.expect_silence(ms(200));
    assert_eq!(server.connection_count(), 1);
    assert_eq!(client.ready_state(), ReadyState::Closed);
}

#[test]
fn close_inside_on_error_of_an_open_stream_suppresses_the_state_change() {
    let server = Server::always(Script::stream("data: a\n\n"));
    let slot = Arc::new(Mutex::new(None));
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    let (mut log, recorder) = Log::new();
    let recorder = closing_recorder(recorder, slot.clone(), Record::is_error, done_tx);
    let client = Arc::new(Client::open(&fast_config(&server.url("/")), recorder).unwrap());
    *slot.lock().unwrap() = Some(Arc::downgrade(&client));

    done_rx
        .recv_timeout(TIMEOUT)
        .expect("close() inside on_error did not return");
    log.expect_silence(ms(200));
    assert_eq!(
        log.all(),
        [
            Record::Open(200),
            Record::State(ReadyState::Open),
            Record::Event(Ev::message("a", "")),
            log.all()[3].clone(),
        ]
    );
    assert!(log.all()[3].is_error());
    assert_eq!(server.connection_count(), 1);
}

#[test]
fn close_inside_on_open_suppresses_the_open_state() {
    let server = Server::always(Script::stream_then_hold("data: a\n\n"));
    let slot = Arc::new(Mutex::new(None));
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    let (mut log, recorder) = Log::new();
    let recorder = closing_recorder(
        recorder,
        slot.clone(),
        |r| matches!(r, Record::Open(_)),
        done_tx,
    );
    let client = Arc::new(Client::open(&fast_config(&server.url("/")), recorder).unwrap());
    *slot.lock().unwrap() = Some(Arc::downgrade(&client));

    done_rx
        .recv_timeout(TIMEOUT)
        .expect("close() inside on_open did not return");
    log.expect_silence(ms(200));
    assert_eq!(log.all(), [Record::Open(200)]);
    assert_eq!(client.ready_state(), ReadyState::Closed);
}

#[test]
fn dropping_the_last_handle_inside_a_callback_does_not_deadlock() {
    let server = Server::always(Script::stream_then_hold("data: 1\n\ndata: 2\n\n"));
    // The handler owns the only handle and drops it on the first event.
    let slot: Arc<Mutex<Option<Arc<Client>>>> = Arc::new(Mutex::new(None));
    let (dropped_tx, dropped_rx) = crossbeam_channel::bounded(1);
    let (mut log, recorder) = Log::new();
    let recorder = {
        let slot = slot.clone();
        recorder.with_hook(move |record| {
            if record.is_event() {
                let mut client = None;
                assert!(wait_until(TIMEOUT, || {
                    client = slot.lock().unwrap().take();
                    client.is_some()
                }));
                drop(client);
                let _ = dropped_tx.send(());
            }
        })
    };
    let client = Arc::new(Client::open(&fast_config(&server.url("/")), recorder).unwrap());
    *slot.lock().unwrap() = Some(client);

    dropped_rx
        .recv_timeout(TIMEOUT)
        .expect("dropping the client inside on_event did not return");
    expect_only_the_first_event(&mut log);
    assert!(
        server
            .wait_for(TIMEOUT, |c| c[0].ended_at.is_some())
            .is_ok(),
        "the worker did not end after its handle was dropped"
    );
}

#[test]
fn huge_retry_after_neither_panics_nor_delays_close() {
    let server = Server::always(Script::status(
        503,
        &[("Retry-After", "99999999999999999999999")],
    ));
    let (mut log, recorder) = Log::new();
    let client = Arc::new(Client::open(&fast_config(&server.url("/")), recorder).unwrap());

    let error = log.expect_error_of(ErrorKind::HttpStatus, true);
    assert!(error.retry_delay >= Duration::from_secs(3_600), "{error:?}");
    close_promptly(&client);
    log.expect_silence(ms(100));
    assert_eq!(server.connection_count(), 1);
}

#[test]
fn huge_server_retry_neither_panics_nor_delays_close() {
    let server = Server::always(Script::stream("retry: 18446744073709551615\ndata: x\n\n"));
    let (mut log, recorder) = Log::new();
    let client = Arc::new(Client::open(&fast_config(&server.url("/")), recorder).unwrap());

    log.expect_opened();
    log.expect_event(Ev::message("x", ""));
    let error = log.expect_error_of(ErrorKind::StreamEnded, true);
    assert!(error.retry_delay >= Duration::from_secs(3_600), "{error:?}");
    log.expect(Record::State(ReadyState::Connecting));
    close_promptly(&client);
    log.expect_silence(ms(100));
    assert_eq!(server.connection_count(), 1);
}
