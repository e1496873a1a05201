//! Reading one HTTP/1.1 request off a connection, as the scripted server records it.

use std::collections::HashMap;
use std::io::{ErrorKind as IoErrorKind, Read};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};

/// A request as the server received it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The request target as sent (path and query).
    pub path: String,
    /// Lowercase names; a header sent twice keeps both values, joined with ", ".
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// Reads one request (head, then a Content-Length or chunked body). None when the client
/// left first or the server shuts down.
pub fn read_request(stream: &mut TcpStream, shutdown: &AtomicBool) -> Option<Request> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos + 4;
        }
        if !read_more(stream, &mut buf, shutdown) {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next()?;
    let mut parts = request_line.split(' ');
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers: HashMap<String, String> = HashMap::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim().to_owned();
        headers
            .entry(name)
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let mut rest = buf[head_end..].to_vec();
    let body = if let Some(length) = headers.get("content-length") {
        let length: usize = length.parse().ok()?;
        while rest.len() < length {
            if !read_more(stream, &mut rest, shutdown) {
                return None;
            }
        }
        rest.truncate(length);
        rest
    } else if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"))
    {
        read_chunked(stream, rest, shutdown)?
    } else {
        Vec::new()
    };
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

fn read_chunked(
    stream: &mut TcpStream,
    mut buf: Vec<u8>,
    shutdown: &AtomicBool,
) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(pos) = find(&buf, b"\r\n") {
                break pos;
            }
            if !read_more(stream, &mut buf, shutdown) {
                return None;
            }
        };
        let size_text = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        buf.drain(..line_end + 2);
        if size == 0 {
            // Trailers end with an empty line.
            while find(&buf, b"\r\n").is_none() {
                if !read_more(stream, &mut buf, shutdown) {
                    return Some(body);
                }
            }
            return Some(body);
        }
        while buf.len() < size + 2 {
            if !read_more(stream, &mut buf, shutdown) {
                return None;
            }
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
    }
}

fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>, shutdown: &AtomicBool) -> bool {
    let mut chunk = [0u8; 4096];
    loop {
        if shutdown.load(Ordering::SeqCst) {
            return false;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return true;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    IoErrorKind::WouldBlock | IoErrorKind::TimedOut | IoErrorKind::Interrupted
                ) => {}
            Err(_) => return false,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
