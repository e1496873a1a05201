//! Response builders: the bytes of response heads, chunks and event-stream bodies, as
//! the test servers send them.

/// "HTTP/1.1 200 OK" with `Content-Type: text/event-stream` and a close-delimited body (no
/// Content-Length, no chunking), so the client sees the body bytes exactly as written.
pub fn ok_stream() -> String {
    stream_head("text/event-stream")
}

/// A 200 response head with this Content-Type and a close-delimited body.
pub fn stream_head(content_type: &str) -> String {
    format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nConnection: close\r\n\r\n")
}

/// A 200 event-stream response head with a chunked body; send chunks with [`chunk`].
pub fn ok_stream_chunked() -> String {
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        .to_owned()
}

/// One chunk of a chunked body; `chunk("")` is the last chunk.
pub fn chunk(data: impl AsRef<[u8]>) -> Vec<u8> {
    let data = data.as_ref();
    // The last chunk, "0\r\n", is followed by the empty trailer line: the same shape.
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// A complete response with this status, `Content-Length: 0`, `Connection: close` and the
/// extra headers.
pub fn status(code: u16, extra_headers: &[(&str, &str)]) -> String {
    let mut head = status_keep_alive(code, extra_headers);
    head.truncate(head.len() - 2);
    head.push_str("Connection: close\r\n\r\n");
    head
}

/// Like [`status`] without `Connection: close`: the client may reuse the connection.
pub fn status_keep_alive(code: u16, extra_headers: &[(&str, &str)]) -> String {
    let mut head = format!("HTTP/1.1 {code} {}\r\n", reason(code));
    for (name, value) in extra_headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if code != 204 && code != 304 {
        head.push_str("Content-Length: 0\r\n");
    }
    head.push_str("\r\n");
    head
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// `data: <line>\n\n` for each line.
pub fn events(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("data: {l}\n\n")).collect()
}
