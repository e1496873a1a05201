//! A connection the peer resets must reach the worker as the error it is, not as the end
//! of the stream.
//!
//! ureq takes `ConnectionReset`, `ConnectionAborted` and `UnexpectedEof` from a transport
//! while it reads a body for the peer closing (`BodyHandler::do_read`, ureq 3.5): a
//! close-delimited body then ends as if the server had closed it in order (the worker
//! reported STREAM_ENDED), and a chunked one fails only as "Peer disconnected". The
//! socket says "reset" once (the next read returns 0), so the word must not be lost on
//! the way. Hence our transports hand ureq a broken connection's error wrapped in
//! [`Broken`], of kind `Other`, which ureq passes on untouched to whoever reads the body
//! (through TLS too: rustls returns its transport's read errors as they are); the worker
//! asks [`is_reset_by_peer`]. Only the error path pays for it.
//!
//! `UnexpectedEof` is left alone: our transports report an orderly close as a read of 0,
//! and rustls's "closed without close_notify" is a FIN, which the worker rightly reports
//! as the end of the stream.

use std::io;

/// A broken connection's error, as a transport hands it to ureq (see the module comment).
/// It shows as its cause does.
#[derive(Debug)]
struct Broken(io::Error);

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Broken {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// `error` as a transport hands it to ureq: wrapped when it says the connection broke
/// (reset, aborted, or a write after that), as it is otherwise.
pub(crate) fn wrap(error: io::Error) -> io::Error {
    match error.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => io::Error::other(Broken(error)),
        _ => error,
    }
}

/// The same for ureq's own errors, as another connector's transport returns them.
pub(crate) fn wrap_ureq(error: ureq::Error) -> ureq::Error {
    match error {
        ureq::Error::Io(error) => ureq::Error::Io(wrap(error)),
        other => other,
    }
}

/// Whether a body read failed because the peer reset the connection (an RST).
pub(crate) fn is_reset_by_peer(error: &io::Error) -> bool {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<Broken>())
        .is_some_and(|broken| broken.0.kind() == io::ErrorKind::ConnectionReset)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The errors a socket reports by their kinds: what `wrap` looks at, and the same on
    /// every platform (the transport's tests get the real ones from real sockets).
    fn kind_error(kind: io::ErrorKind) -> io::Error {
        io::Error::from(kind)
    }

    #[test]
    fn a_reset_is_wrapped_out_of_the_kinds_ureq_reads_as_a_close() {
        let error = wrap(kind_error(io::ErrorKind::ConnectionReset));
        assert_eq!(error.kind(), io::ErrorKind::Other);
        assert!(is_reset_by_peer(&error));
    }

    #[test]
    fn an_aborted_connection_and_a_broken_pipe_are_wrapped_but_are_no_reset() {
        for kind in [io::ErrorKind::ConnectionAborted, io::ErrorKind::BrokenPipe] {
            let error = wrap(kind_error(kind));
            assert_eq!(error.kind(), io::ErrorKind::Other, "{kind:?}");
            assert!(!is_reset_by_peer(&error), "{kind:?}");
        }
    }

    #[test]
    fn other_errors_pass_as_they_are() {
        for kind in [
            io::ErrorKind::WouldBlock,
            io::ErrorKind::TimedOut,
            io::ErrorKind::Interrupted,
            io::ErrorKind::UnexpectedEof,
        ] {
            let error = wrap(io::Error::from(kind));
            assert_eq!(error.kind(), kind);
            assert!(!is_reset_by_peer(&error));
        }
        assert!(
            !is_reset_by_peer(&kind_error(io::ErrorKind::ConnectionReset)),
            "not wrapped"
        );
    }

    #[test]
    fn a_wrapped_error_reads_as_its_cause() {
        let cause = kind_error(io::ErrorKind::ConnectionReset);
        let text = cause.to_string();
        let error = wrap(cause);
        assert_eq!(error.to_string(), text);
        assert_eq!(ureq::Error::Io(error).to_string(), format!("io: {text}"));
    }

    #[test]
    fn ureq_errors_wrap_only_their_io_errors() {
        let wrapped = wrap_ureq(ureq::Error::Io(kind_error(io::ErrorKind::ConnectionReset)));
        assert!(matches!(&wrapped, ureq::Error::Io(e) if is_reset_by_peer(e)));
        let timeout = wrap_ureq(ureq::Error::Timeout(ureq::Timeout::PerRead));
        assert!(matches!(
            timeout,
            ureq::Error::Timeout(ureq::Timeout::PerRead)
        ));
    }
}
