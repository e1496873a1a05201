//! One connection attempt: build the request, run the request hook, send it, follow
//! redirects by the rules of `redirect`, run the response hook, and judge the response.

use std::time::SystemTime;

use ureq::http::{header, HeaderName, HeaderValue, Method, Request, Response, Uri};
use ureq::{Agent, Body, BodyReader};

use crate::config::{Config, Remedy};
use crate::delivery::report::ErrorKind;
use crate::delivery::CloseGate;
use crate::http::hooks::{RequestInfo, ResponseInfo};
use crate::http::request_head::{self, MAX_REQUEST_HEAD};
use crate::http::transport::{self, BeforeWait};
use crate::http::url_rules::redact;
use crate::http::{proxy, redirect, tls};
use crate::policy::{self, Ending, StatusVerdict};

const INPUT_BUFFER_SIZE: usize = 16 * 1024;
/// A response head larger than this is refused (ureq's default is 64 KiB). It must stay
/// below the input buffer's size: ureq only says "too big" while the buffer has room to
/// see past the limit, and a full buffer reads as the peer hanging up.
const MAX_RESPONSE_HEAD: usize = 15 * 1024;
/// The request head is written whole into it: see `request_head`, which keeps every head
/// within it.
const OUTPUT_BUFFER_SIZE: usize = MAX_REQUEST_HEAD;

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
    /// The settings `message` names as fixes, and where.
    pub remedies: Vec<Remedy>,
}

impl AttemptFailure {
    fn fatal_status(http_status: u16, message: String) -> AttemptFailure {
        AttemptFailure {
            kind: ErrorKind::HttpStatus,
            http_status,
            message,
            ending: Ending::Fatal,
            remedies: Vec::new(),
        }
    }
}

/// What one attempt needs besides the configuration.
pub(crate) struct Attempt<'a> {
    pub config: &'a Config,
    pub agent: &'a Agent,
    /// For the request hook.
    pub last_event_id: &'a str,
    /// What is sent as `Last-Event-ID`: `None` for none (an empty ID, or one that cannot be
    /// sent; see `request_head`).
    pub last_event_id_header: Option<HeaderValue>,
    /// 1-based number of this attempt, for the request hook.
    pub number: u32,
    /// Hooks run behind it, so none runs after close().
    pub gate: &'a CloseGate,
}

/// The agent attempts go through until a restart, which shuts it down (that is final) to
/// interrupt the attempt in flight; the next attempt then gets a fresh one. `before_wait`
/// runs whenever a read is about to wait for the network (see `transport`).
pub(crate) fn agent(config: &Config, before_wait: Option<BeforeWait>) -> Agent {
    let proxy = proxy::proxy_for(&config.url, &config.proxy_setting(), &|name| {
        std::env::var(name).ok()
    });
    let agent_config = Agent::config_builder()
        // Statuses are judged here (204, 4xx, 5xx each mean something different).
        .http_status_as_error(false)
        // Redirects are followed here, by the rules of `redirect`.
        .max_redirects(0)
        .max_redirects_will_error(false)
        // REPORT, QUERY and friends are legitimate for streaming APIs.
        .allow_non_standard_methods(true)
        .user_agent(concat!("sse_client/", env!("CARGO_PKG_VERSION")))
        .timeout_connect(config.connect_timeout)
        .timeout_recv_response(config.connect_timeout)
        // The read timeout is an idle timeout: it restarts with every read.
        .timeout_per_read(config.read_timeout)
        // ureq's 128 KiB defaults cost a thousand idle streams a quarter of a gigabyte; the
        // input buffer must still hold a whole response head, the output buffer a request
        // head. A TCP connection's input buffer starts at this size and grows while a
        // stream keeps it full (see `transport`); TLS keeps its plaintext buffer at it.
        .max_response_header_size(MAX_RESPONSE_HEAD)
        .input_buffer_size(INPUT_BUFFER_SIZE)
        .output_buffer_size(OUTPUT_BUFFER_SIZE)
        .tls_config(config.tls.to_ureq())
        .proxy(proxy)
        .build();
    transport::agent(agent_config, before_wait)
}

/// Runs the attempt up to an open stream or a failure.
pub(crate) fn open(attempt: &Attempt<'_>) -> Result<OpenStream, AttemptFailure> {
    let config = attempt.config;
    let mut headers = config.headers.clone();
    if let Some(hook) = &config.hooks.request {
        let mut info = RequestInfo {
            attempt: attempt.number,
            last_event_id: attempt.last_event_id,
            url: &config.url,
            headers: &mut headers,
        };
        attempt.gate.run_hook(|| hook.before_request(&mut info));
    }

    let mut url = config.url.clone();
    let mut method = config.method.clone();
    let mut with_body = true;
    let mut hops = 0;
    loop {
        let response = send(attempt, &method, &url, &headers, with_body)?;
        let status = response.status().as_u16();
        if let Some(hook) = &config.hooks.response {
            let info = ResponseInfo {
                status,
                url: &url,
                headers: response.headers(),
            };
            attempt.gate.run_hook(|| hook.on_response(&info));
        }
        let location = response.headers().get(header::LOCATION);
        if !redirect::is_redirect(status) || location.is_none() {
            return judge(response, &url);
        }
        let location = String::from_utf8_lossy(location.map_or(&[][..], |l| l.as_bytes()));
        if hops >= config.max_redirects {
            return Err(AttemptFailure::fatal_status(
                status,
                format!(
                    "{} redirected once too often (more than {} redirects); last Location {:?}",
                    redact(&url),
                    config.max_redirects,
                    redact(&location)
                ),
            ));
        }
        let next = redirect::resolve_location(&url, &location).map_err(|message| {
            AttemptFailure::fatal_status(status, format!("{}: {message}", redact(&url)))
        })?;
        if let Some(overflow) = request_head::configured_overflow(&method, &next, &headers) {
            return Err(AttemptFailure::fatal_status(
                status,
                format!(
                    "refused the redirect from {} to a URL too long to send: {overflow}",
                    redact(&url)
                ),
            ));
        }
        if redirect::is_downgrade(&url, &next) {
            return Err(AttemptFailure::fatal_status(
                status,
                format!(
                    "refused the redirect from {} to {}: it would downgrade https to http",
                    redact(&url),
                    redact(&next)
                ),
            ));
        }
        let (next_method, keep_body) = redirect::method_after(status, &method);
        if !keep_body && with_body {
            with_body = false;
            headers.retain(|(name, _)| !is_body_header(name));
        }
        if !redirect::same_origin(&config.url, &next) {
            // Once the chain leaves the configured origin, credentials stay behind.
            headers.retain(|(name, _)| !redirect::is_credential_header(name.as_str()));
        }
        log::debug!(
            "{status} redirect from {} to {}",
            redact(&url),
            redact(&next)
        );
        method = next_method;
        url = next;
        hops += 1;
    }
}

/// Headers that describe a body, dropped with it when a redirect turns into a GET.
fn is_body_header(name: &HeaderName) -> bool {
    name == header::CONTENT_TYPE
        || name == header::CONTENT_ENCODING
        || name == header::CONTENT_LANGUAGE
        || name == header::CONTENT_LOCATION
}

fn send(
    attempt: &Attempt<'_>,
    method: &Method,
    url: &Uri,
    headers: &[(HeaderName, HeaderValue)],
    with_body: bool,
) -> Result<Response<Body>, AttemptFailure> {
    let config = attempt.config;
    let mut builder = Request::builder().method(method.clone()).uri(url.clone());
    let request_headers = builder
        .headers_mut()
        .expect("method and URI were validated");
    request_headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("text/event-stream"),
    );
    request_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    for (name, value) in headers {
        request_headers.insert(name.clone(), value.clone());
    }
    let head_size = request_head::head_size(method, url, headers)
        + attempt
            .last_event_id_header
            .as_ref()
            .map_or(0, |id| request_head::last_event_id_line(id.len()));
    if head_size > MAX_REQUEST_HEAD {
        // The setters keep the configured part within bounds: this is a request hook's doing.
        return Err(AttemptFailure {
            kind: ErrorKind::Connect,
            http_status: 0,
            message: format!(
                "cannot send the request to {}: its head would take up to {head_size} bytes \
                 with the request hook's headers, and at most {MAX_REQUEST_HEAD} are sent",
                redact(url)
            ),
            ending: Ending::AttemptFailed { retry_after: None },
            remedies: Vec::new(),
        });
    }
    if let Some(id) = &attempt.last_event_id_header {
        request_headers.insert("last-event-id", id.clone());
    }
    let sent = if with_body && !config.body.is_empty() {
        builder
            .body(config.body.as_slice())
            .map_err(ureq::Error::from)
            .and_then(|request| attempt.agent.run(request))
    } else {
        builder
            .body(())
            .map_err(ureq::Error::from)
            .and_then(|request| attempt.agent.run(request))
    };
    sent.map_err(|error| {
        // Through a proxy, say so: "connection refused" may be the proxy's.
        let via = attempt
            .agent
            .config()
            .proxy()
            .map(|p| format!(" via {}", proxy::describe(p)))
            .unwrap_or_default();
        // The read timeout bounds every wait for bytes, the response head's included.
        if let ureq::Error::Timeout(ureq::Timeout::PerRead) = error {
            return AttemptFailure {
                kind: ErrorKind::ReadTimeout,
                http_status: 0,
                message: format!(
                    "{}{via} sent no response head within the read timeout ({} ms)",
                    redact(url),
                    config.read_timeout.unwrap_or_default().as_millis()
                ),
                ending: Ending::AttemptFailed { retry_after: None },
                remedies: Vec::new(),
            };
        }
        let (message, remedies) = match tls::describe_tls_error(&error) {
            Some(tls) => {
                let message = format!("TLS with {}{via} failed: {}", redact(url), tls.text);
                let remedies = tls.remedy.map(|fix| Remedy::at_end_of(&message, fix));
                (message, remedies.into_iter().collect())
            }
            None => (
                format!("cannot connect to {}{via}: {error}", redact(url)),
                Vec::new(),
            ),
        };
        AttemptFailure {
            kind: ErrorKind::Connect,
            http_status: 0,
            message,
            ending: Ending::AttemptFailed { retry_after: None },
            remedies,
        }
    })
}

fn judge(response: Response<Body>, url: &Uri) -> Result<OpenStream, AttemptFailure> {
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
                300..=399 => format!("{code} {reason} without a Location to follow"),
                _ => format!("HTTP {code} {reason}"),
            };
            return Err(AttemptFailure {
                kind: ErrorKind::HttpStatus,
                http_status: code,
                message: format!("{what} from {}", redact(url)),
                ending,
                remedies: Vec::new(),
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
                redact(url),
                content_type
                    .as_deref()
                    .map_or("(none)".to_owned(), |t| format!("{t:?}"))
            ),
            ending: Ending::Fatal,
            remedies: Vec::new(),
        });
    }
    if let Some(coding) = policy::unsupported_coding(
        header_text(&response, header::CONTENT_ENCODING).as_deref(),
        header_text(&response, header::TRANSFER_ENCODING).as_deref(),
    ) {
        // Compressed bytes fed to the parser would open a stream that delivers nothing and
        // reports nothing.
        return Err(AttemptFailure {
            kind: ErrorKind::ContentType,
            http_status: code,
            message: format!(
                "{} sent its event stream encoded with {coding:?}, which this client does \
                 not decode (it asks for no compression); the stream was not read",
                redact(url)
            ),
            ending: Ending::Fatal,
            remedies: Vec::new(),
        });
    }
    Ok(OpenStream {
        http_status: code,
        body: response.into_body().into_reader(),
    })
}

/// Every value of the header `name`, joined with commas as one list, lossily decoded.
fn header_text(response: &Response<Body>, name: header::HeaderName) -> Option<String> {
    let values: Vec<_> = response
        .headers()
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}
