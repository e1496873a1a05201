//! One connection attempt: build the request, send it, and judge the response.

use std::time::SystemTime;

use ureq::http::{header, HeaderValue, Request, Response};
use ureq::{Agent, Body, BodyReader};

use crate::config::Config;
use crate::policy::{self, Ending, StatusVerdict};
use crate::report::ErrorKind;

/// An open event stream: a 200 response with the right Content-Type.
pub(crate) struct OpenStream {
    pub http_status: u16,
    pub body: BodyReader<'static>,
}

/// Why an attempt did not open a stream.
#[derive(Debug)]
pub(crate) struct AttemptFailure {
    pub kind: ErrorKind,
    pub http_status: u16,
    pub message: String,
    pub ending: Ending,
}

/// The agent every attempt of one client goes through; shutting it down interrupts the
/// attempt or read in flight (that is how close() stops a blocked worker).
pub(crate) fn agent(config: &Config) -> Agent {
    Agent::config_builder()
        // Statuses are judged here (204, 4xx, 5xx each mean something different).
        .http_status_as_error(false)
        // Too many redirects hands back the last 3xx, which is then a fatal status.
        .max_redirects(config.max_redirects)
        .max_redirects_will_error(false)
        // REPORT, QUERY and friends are legitimate for streaming APIs.
        .allow_non_standard_methods(true)
        .user_agent(concat!("sse_client/", env!("CARGO_PKG_VERSION")))
        .timeout_connect(config.connect_timeout)
        .timeout_recv_response(config.connect_timeout)
        // The read timeout is an idle timeout: it restarts with every read.
        .timeout_per_read(config.read_timeout)
        .build()
        .new_agent()
}

/// Sends the request and judges the response.
pub(crate) fn open(
    agent: &Agent,
    config: &Config,
    last_event_id: &str,
) -> Result<OpenStream, AttemptFailure> {
    let response = send(agent, config, last_event_id).map_err(|e| AttemptFailure {
        kind: ErrorKind::Connect,
        http_status: 0,
        message: format!("cannot connect to {}: {e}", config.url),
        ending: Ending::AttemptFailed { retry_after: None },
    })?;
    judge(response, config)
}

fn send(
    agent: &Agent,
    config: &Config,
    last_event_id: &str,
) -> Result<Response<Body>, ureq::Error> {
    let mut builder = Request::builder()
        .method(config.method.clone())
        .uri(config.url.clone());
    let headers = builder
        .headers_mut()
        .expect("method and URI were validated");
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    for (name, value) in &config.headers {
        headers.insert(name.clone(), value.clone());
    }
    if !last_event_id.is_empty() {
        match HeaderValue::from_str(last_event_id) {
            Ok(value) => {
                headers.insert("last-event-id", value);
            }
            // An ID with control characters cannot travel in a header; say so and go on.
            Err(_) => {
                log::warn!("last event ID {last_event_id:?} is not a valid header value; not sent")
            }
        }
    }
    if config.body.is_empty() {
        agent.run(builder.body(())?)
    } else {
        agent.run(builder.body(config.body.as_slice())?)
    }
}

fn judge(response: Response<Body>, config: &Config) -> Result<OpenStream, AttemptFailure> {
    let status = response.status();
    let code = status.as_u16();
    let reason = status.canonical_reason().unwrap_or("");
    match policy::judge_status(code) {
        StatusVerdict::Stream => {}
        verdict => {
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| policy::parse_retry_after(v, SystemTime::now()));
            let ending = match verdict {
                StatusVerdict::Retry => Ending::AttemptFailed { retry_after },
                _ => Ending::Fatal,
            };
            let what = match code {
                204 => "the server has no stream for this client (204 No Content)".to_owned(),
                300..=399 => format!("{code} {reason}: redirect not followed (more than {} redirects, or no Location)", config.max_redirects),
                _ => format!("HTTP {code} {reason}"),
            };
            return Err(AttemptFailure {
                kind: ErrorKind::HttpStatus,
                http_status: code,
                message: format!("{what} from {}", config.url),
                ending,
            });
        }
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if !policy::is_event_stream(content_type.as_deref()) {
        return Err(AttemptFailure {
            kind: ErrorKind::ContentType,
            http_status: code,
            message: format!(
                "{} answered with Content-Type {}, not text/event-stream",
                config.url,
                content_type
                    .as_deref()
                    .map_or("(none)".to_owned(), |t| format!("{t:?}"))
            ),
            ending: Ending::Fatal,
        });
    }
    Ok(OpenStream {
        http_status: code,
        body: response.into_body().into_reader(),
    })
}
