//! The client as a host runs it: with callbacks, or in poll mode drained by a slow host
//! thread into the same kind of log.

use std::sync::Arc;
use std::thread::JoinHandle;

use sse_client::{Client, Handler, Message, PollError};

use crate::support::{ms, Recorder};

/// A client as a host runs it: with callbacks, or in poll mode with a host thread that
/// drains the queue into the same kind of log, slowly enough that a small queue fills and
/// the worker has to wait for it. Dropping it closes the client and joins both threads.
pub struct Host {
    pub client: Arc<Client>,
    drainer: Option<JoinHandle<()>>,
}

impl Host {
    pub fn open(config: &mut sse_client::Config, recorder: Recorder, queue: Option<usize>) -> Host {
        let Some(capacity) = queue else {
            return Host {
                client: Arc::new(Client::open(config, recorder).unwrap()),
                drainer: None,
            };
        };
        config.set_queue_capacity(capacity).unwrap();
        let client = Arc::new(Client::open_polled(config).unwrap());
        let drainer = {
            let client = client.clone();
            std::thread::Builder::new()
                .name("test-host".into())
                .spawn(move || drain(&client, recorder))
                .unwrap()
        };
        Host {
            client,
            drainer: Some(drainer),
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.client.close();
        if let Some(drainer) = self.drainer.take() {
            let _ = drainer.join();
        }
    }
}

/// Polls until the client is closed and drained, handing each message to `recorder` as
/// the matching callback; pauses now and then, like a busy host.
fn drain(client: &Client, mut recorder: Recorder) {
    let mut count = 0u64;
    loop {
        let message = match client.poll(Some(ms(20))) {
            Ok(message) => message,
            Err(PollError::Timeout) => continue,
            Err(PollError::Closed | PollError::WrongMode) => return,
        };
        match message {
            Message::Open { http_status } => recorder.on_open(http_status),
            Message::Event(event) => recorder.on_event(&event.as_event()),
            ref comment @ Message::Comment(_) => {
                recorder.on_comment(comment.comment_text().unwrap())
            }
            Message::Error(error) => recorder.on_error(&error),
            Message::State(state) => recorder.on_state(state),
        }
        count += 1;
        if count.is_multiple_of(5) {
            std::thread::sleep(ms(1));
        }
    }
}
