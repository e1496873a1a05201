//! How a test server ends a connection abruptly.

use std::net::TcpStream;
use std::time::Duration;

/// Sets SO_LINGER 0, so that closing the socket sends the peer an RST instead of a FIN.
pub fn reset_on_close(stream: &TcpStream) {
    socket2::SockRef::from(stream)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER 0");
}
