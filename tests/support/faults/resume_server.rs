//! The server of a round: connection i resumes after the request's Last-Event-ID and
//! suffers the round's i-th fault plan; the next ones send the rest of the stream.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::fault_plan::{faulty_connection, final_connection};
use super::round::{Round, Served};
use super::stream::Stream;
use crate::support::{fast_config, Server};

/// The server of a round: connection i resumes after the request's Last-Event-ID and
/// suffers `round.plans[i]`; the next ones send the rest.
pub struct ResumeServer {
    pub server: Server,
    violations: Arc<Mutex<Vec<String>>>,
    served: Arc<Mutex<BTreeMap<usize, Served>>>,
}

impl ResumeServer {
    pub fn start(stream: &Stream, round: &Round) -> ResumeServer {
        let violations = Arc::new(Mutex::new(Vec::<String>::new()));
        let served = Arc::new(Mutex::new(BTreeMap::new()));
        let server = {
            let stream = Arc::new(stream.clone());
            let round = round.clone();
            let (violations, served) = (violations.clone(), served.clone());
            Server::routed(move |request, n| {
                let offset = match stream.resume_offset(request.header("last-event-id")) {
                    Ok(offset) => offset,
                    Err(problem) => {
                        let mut violations = violations.lock().unwrap();
                        violations.push(format!("connection {n}: {problem}"));
                        0
                    }
                };
                match round.plans.get(n) {
                    Some(plan) => {
                        let sending = faulty_connection(&stream, plan, offset);
                        let key = (plan.fault, sending.cut, plan.chunked);
                        served.lock().unwrap().insert(n, key);
                        sending.script
                    }
                    None => final_connection(&stream, offset, &round),
                }
            })
        };
        ResumeServer {
            server,
            violations,
            served,
        }
    }

    /// The client's configuration for this round.
    pub fn config(&self, round: &Round) -> sse_client::Config {
        let mut config = fast_config(&self.server.url("/events"));
        config
            .set_reconnect_delay(round.delays.0, round.delays.1)
            .unwrap();
        config.set_read_timeout(round.read_timeout);
        config.set_proxy_from_env(false);
        config
    }

    /// Every Last-Event-ID named an event of the stream.
    pub fn assert_resumable(&self) {
        let problems = self.violations.lock().unwrap().clone();
        assert!(
            problems.is_empty(),
            "the server was asked to resume wrongly: {problems:?}"
        );
    }

    /// (fault, cut used, chunked) of each faulty connection so far, in order.
    pub fn cuts(&self) -> Vec<Served> {
        self.served.lock().unwrap().values().copied().collect()
    }
}
