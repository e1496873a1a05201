#!/usr/bin/env python3
"""Proof that the sse_client C ABI is usable from another language: Python's ctypes.

Standard library only. Usage:

    cargo build
    python3 tests/python/test_ctypes.py [path/to/libsse_client.so]

The library defaults to target/debug/libsse_client.so under the repository root (found
from this script's location). Each test starts a scripted SSE server on 127.0.0.1:0 in a
Python thread (a real socket), drives a client through the C functions declared below,
and waits for what it expects with a bounded timeout. unittest's report ends with OK or
FAILED; a last line `N passed, M failed` follows, and the exit status is non-zero on
failure.
"""

import ctypes
import os
import re
import select
import socket
import sys
import threading
import time
import unittest
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    byref,
    c_bool,
    c_char_p,
    c_int,
    c_int32,
    c_size_t,
    c_uint16,
    c_uint32,
    c_uint64,
    c_uint8,
    c_void_p,
    create_string_buffer,
    string_at,
)

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_LIBRARY = os.path.join(REPO_ROOT, "target", "debug", "libsse_client.so")

# Every wait for something that should happen is bounded by this.
TIMEOUT = 5.0

# ---------------------------------------------------------------------------------------
# The C declarations of include/sse_client.h (enums are C ints)
# ---------------------------------------------------------------------------------------

# enum sse_result
SSE_OK = 0
SSE_ERROR_NULL_ARGUMENT = 1
SSE_ERROR_INVALID_ARGUMENT = 2
SSE_ERROR_INVALID_URL = 3
SSE_ERROR_TIMEOUT = 4
SSE_ERROR_CLOSED = 5
SSE_ERROR_WRONG_MODE = 6
SSE_ERROR_PANIC = 7
SSE_ERROR_RESOURCE = 8
RESULT_NAMES = {
    SSE_OK: "SSE_OK",
    SSE_ERROR_NULL_ARGUMENT: "SSE_ERROR_NULL_ARGUMENT",
    SSE_ERROR_INVALID_ARGUMENT: "SSE_ERROR_INVALID_ARGUMENT",
    SSE_ERROR_INVALID_URL: "SSE_ERROR_INVALID_URL",
    SSE_ERROR_TIMEOUT: "SSE_ERROR_TIMEOUT",
    SSE_ERROR_CLOSED: "SSE_ERROR_CLOSED",
    SSE_ERROR_WRONG_MODE: "SSE_ERROR_WRONG_MODE",
    SSE_ERROR_PANIC: "SSE_ERROR_PANIC",
    SSE_ERROR_RESOURCE: "SSE_ERROR_RESOURCE",
}

# enum sse_error_kind
SSE_ERROR_KIND_CONNECT = 0
SSE_ERROR_KIND_HTTP_STATUS = 1
SSE_ERROR_KIND_CONTENT_TYPE = 2
SSE_ERROR_KIND_STREAM_ENDED = 3
SSE_ERROR_KIND_IO = 4
SSE_ERROR_KIND_READ_TIMEOUT = 5
SSE_ERROR_KIND_EVENT_TOO_LARGE = 6

# enum sse_ready_state
SSE_STATE_CONNECTING = 0
SSE_STATE_OPEN = 1
SSE_STATE_CLOSED = 2

# enum sse_message_kind
SSE_MESSAGE_OPEN = 0
SSE_MESSAGE_EVENT = 1
SSE_MESSAGE_COMMENT = 2
SSE_MESSAGE_ERROR = 3
SSE_MESSAGE_STATE = 4


class SseEvent(Structure):
    """struct sse_event: a borrowed view."""

    _fields_ = [
        ("type", c_void_p),  # const char *
        ("type_len", c_size_t),
        ("data", c_void_p),  # const char *, may contain NUL bytes
        ("data_len", c_size_t),
        ("id", c_void_p),  # const char *
        ("id_len", c_size_t),
    ]


# enum sse_setting (values from 1; a host ignores one it does not know)
SSE_SETTING_CA_FILE = 1
SSE_SETTING_CLIENT_CERT = 2
SSE_SETTING_LAST_EVENT_ID = 3
SSE_SETTING_RETRY_NON_GET = 4


class SseRemedy(Structure):
    """struct sse_remedy: a setting and where the plain message names it."""

    _fields_ = [
        ("setting", c_int),  # enum sse_setting
        ("at", c_size_t),  # byte offset in plain_message
    ]


class SseError(Structure):
    """struct sse_error: a borrowed view. The library allocates it; the fields from
    plain_message on exist from 1.1.0."""

    _fields_ = [
        ("kind", c_int),  # enum sse_error_kind
        ("http_status", c_uint16),
        ("message", c_char_p),
        ("will_retry", c_bool),
        ("retry_delay_ms", c_uint32),
        ("failed_attempts", c_uint32),
        ("plain_message", c_char_p),
        ("remedies", POINTER(SseRemedy)),
        ("remedy_count", c_size_t),
    ]


ON_OPEN = CFUNCTYPE(None, c_void_p, c_uint16)
ON_EVENT = CFUNCTYPE(None, c_void_p, POINTER(SseEvent))
# The text as c_void_p, not c_char_p: we decode it with its length.
ON_COMMENT = CFUNCTYPE(None, c_void_p, c_void_p, c_size_t)
ON_ERROR = CFUNCTYPE(None, c_void_p, POINTER(SseError))
ON_STATE = CFUNCTYPE(None, c_void_p, c_int)
ON_LOG = CFUNCTYPE(None, c_void_p, c_int, c_char_p)

# enum sse_log_level
SSE_LOG_ERROR = 1
SSE_LOG_WARN = 2


class SseCallbacks(Structure):
    """struct sse_callbacks: every member may be NULL."""

    _fields_ = [
        ("userdata", c_void_p),
        ("on_open", ON_OPEN),
        ("on_event", ON_EVENT),
        ("on_comment", ON_COMMENT),
        ("on_error", ON_ERROR),
        ("on_state", ON_STATE),
    ]


def load_library(path):
    lib = ctypes.CDLL(path)
    sig = [
        ("sse_result_name", c_char_p, [c_int]),
        ("sse_last_error_message", c_char_p, []),
        ("sse_version", c_char_p, []),
        ("sse_config_new", c_int, [c_char_p, POINTER(c_void_p)]),
        ("sse_config_free", None, [c_void_p]),
        ("sse_config_set_header", c_int, [c_void_p, c_char_p, c_char_p]),
        ("sse_config_set_last_event_id", c_int, [c_void_p, c_char_p]),
        ("sse_config_set_reconnect_delay", c_int, [c_void_p, c_uint32, c_uint32]),
        ("sse_config_set_max_retries", c_int, [c_void_p, c_uint32]),
        ("sse_config_set_connect_timeout", c_int, [c_void_p, c_uint32]),
        ("sse_client_open", c_int, [c_void_p, POINTER(SseCallbacks), POINTER(c_void_p)]),
        ("sse_client_ready_state", c_int, [c_void_p]),
        ("sse_client_last_event_id", c_size_t, [c_void_p, c_char_p, c_size_t]),
        ("sse_client_close", None, [c_void_p]),
        ("sse_client_free", None, [c_void_p]),
        ("sse_client_poll", c_int, [c_void_p, c_int32, POINTER(c_void_p)]),
        ("sse_client_wakeup_fd", c_int32, [c_void_p]),
        # intptr_t: pointer-sized and signed, as ssize_t is on every platform we build for.
        ("sse_client_wakeup_handle", ctypes.c_ssize_t, [c_void_p]),
        ("sse_message_kind_of", c_int, [c_void_p]),
        ("sse_message_event", POINTER(SseEvent), [c_void_p]),
        ("sse_message_error", POINTER(SseError), [c_void_p]),
        ("sse_message_state", c_int, [c_void_p]),
        ("sse_message_http_status", c_uint16, [c_void_p]),
        ("sse_message_comment", c_void_p, [c_void_p, POINTER(c_size_t)]),
        ("sse_message_free", None, [c_void_p]),
        ("sse_client_poll_batch", c_int, [c_void_p, c_int32, POINTER(c_void_p)]),
        ("sse_batch_len", c_size_t, [c_void_p]),
        ("sse_batch_get", c_void_p, [c_void_p, c_size_t]),
        ("sse_batch_free", None, [c_void_p]),
        ("sse_config_set_trust_roots", c_int, [c_void_p, c_int]),
        # Declared with a byte where the header says bool: what a careless binding does,
        # and the only way to pass the library a bool that is neither 0 nor 1.
        ("sse_config_set_proxy_from_env", c_int, [c_void_p, c_uint8]),
        ("sse_config_set_retry_non_get", c_int, [c_void_p, c_uint8]),
        ("sse_set_log_callback", None, [ON_LOG, c_void_p, c_int]),
        ("sse_client_error_count", c_int, [c_void_p, c_int, POINTER(c_uint64)]),
    ]
    for name, restype, argtypes in sig:
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


LIB = None  # set in main()


def last_error():
    return LIB.sse_last_error_message().decode("utf-8")


def event_to_tuple(ev):
    """(type, data, id) from a struct sse_event view, decoded with the lengths."""
    return (
        string_at(ev.type, ev.type_len).decode("utf-8"),
        string_at(ev.data, ev.data_len).decode("utf-8"),
        string_at(ev.id, ev.id_len).decode("utf-8"),
    )


def state_name(state):
    return {0: "CONNECTING", 1: "OPEN", 2: "CLOSED"}.get(state, "?%d" % state)


# ---------------------------------------------------------------------------------------
# A scripted SSE server on a real loopback socket
# ---------------------------------------------------------------------------------------

SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/event-stream\r\n"
    b"Cache-Control: no-cache\r\n"
    b"Connection: close\r\n"
    b"\r\n"
)


class Connection:
    """What the server does on one connection: send `body` after an SSE response head,
    then close (or hold the connection open until the server stops). When
    `expect_last_event_id` is set, the request must carry that Last-Event-ID; otherwise
    the server records a problem and answers 204 (which tells the client to stop)."""

    def __init__(self, body, hold_open=False, expect_last_event_id=None):
        self.body = body
        self.hold_open = hold_open
        self.expect_last_event_id = expect_last_event_id


class ScriptedSseServer:
    """Serves connection i with script[i]; connections past the script are held open
    silently. Records each request's headers (names lowercased)."""

    def __init__(self, script):
        self.script = script
        self.requests = []  # list of (request line, {lowercased name: value})
        self.problems = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d/events" % self.port
        self._threads = []
        self._accepter = threading.Thread(target=self._accept_loop, daemon=True)
        self._accepter.start()

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            index = len(self._threads)
            t = threading.Thread(target=self._serve, args=(conn, index), daemon=True)
            self._threads.append(t)
            t.start()

    @staticmethod
    def _read_head(conn):
        conn.settimeout(TIMEOUT)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return None
            data += chunk
        lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return lines[0], headers

    def _serve(self, conn, index):
        try:
            head = self._read_head(conn)
            if head is None:
                return
            with self._cond:
                self.requests.append(head)
                self._cond.notify_all()
            step = self.script[index] if index < len(self.script) else None
            if step is None:
                conn.sendall(SSE_HEAD)
                self._stop.wait(2 * TIMEOUT)
                return
            want = step.expect_last_event_id
            got = head[1].get("last-event-id")
            if want is not None and got != want:
                with self._cond:
                    self.problems.append(
                        "connection %d: expected Last-Event-ID %r, got %r"
                        % (index + 1, want, got)
                    )
                conn.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                return
            conn.sendall(SSE_HEAD + step.body)
            if step.hold_open:
                self._stop.wait(2 * TIMEOUT)
        except OSError as err:  # the client went away
            with self._cond:
                self.problems.append("connection %d: %s" % (index + 1, err))
        finally:
            conn.close()

    def wait_requests(self, n, timeout=TIMEOUT):
        with self._cond:
            return self._cond.wait_for(lambda: len(self.requests) >= n, timeout)

    def stop(self):
        self._stop.set()
        self._sock.close()
        self._accepter.join(TIMEOUT)
        for t in list(self._threads):
            t.join(TIMEOUT)


# The story every client test hears: a retry field, a comment, three events (one with
# two data lines, one without an event type, one with non-ASCII text), then the server
# closes; the reconnect must carry Last-Event-ID: 3 and gets one more event.
FIRST_BODY = (
    b"retry: 50\n"
    b": hello comment\n"
    b"\n"
    b"id: 1\n"
    b"event: greeting\n"
    b"data: hello\n"
    b"\n"
    b"id: 2\n"
    b"data: line one\n"
    b"data: line two\n"
    b"\n"
    b"id: 3\n"
    b"event: update\n"
    b'data: {"text": "h\xc3\xa9llo"}\n'
    b"data: \n"
    b"data: after an empty line\n"
    b"\n"
)
SECOND_BODY = b"id: 4\nevent: update\ndata: four\n\n"
EXPECTED_EVENTS = [
    ("greeting", "hello", "1"),
    ("message", "line one\nline two", "2"),
    ("update", '{"text": "h\u00e9llo"}\n\nafter an empty line', "3"),
    ("update", "four", "4"),
]


def standard_script():
    return [
        Connection(FIRST_BODY),
        Connection(SECOND_BODY, hold_open=True, expect_last_event_id="3"),
    ]


def new_config(url):
    cfg = c_void_p()
    rc = LIB.sse_config_new(url.encode("utf-8"), byref(cfg))
    if rc != SSE_OK:
        raise AssertionError("sse_config_new(%r) = %d: %s" % (url, rc, last_error()))
    assert LIB.sse_config_set_reconnect_delay(cfg, 10, 100) == SSE_OK, last_error()
    assert LIB.sse_config_set_connect_timeout(cfg, 2000) == SSE_OK, last_error()
    return cfg


def client_last_event_id(client):
    n = LIB.sse_client_last_event_id(client, None, 0)
    buf = create_string_buffer(n + 1)
    m = LIB.sse_client_last_event_id(client, buf, n + 1)
    assert m == n, (m, n)
    return buf.value.decode("utf-8")


# ---------------------------------------------------------------------------------------
# Callback mode: a recorder whose CFUNCTYPE objects live as long as the client
# ---------------------------------------------------------------------------------------


class Recorder:
    """Records every callback, in order, as ("open", 200), ("event", (type, data, id)),
    ("comment", text), ("error", (kind, status, message, will_retry, delay)),
    ("state", n). Exceptions cannot cross back into C, so callbacks only record."""

    def __init__(self):
        self.log = []
        self.error_words = []  # (plain_message, [(setting, at)]) of each error
        self.cond = threading.Condition()
        self.threads = set()
        # Keep the CFUNCTYPE objects referenced while the client may call them.
        self.on_open = ON_OPEN(self._on_open)
        self.on_event = ON_EVENT(self._on_event)
        self.on_comment = ON_COMMENT(self._on_comment)
        self.on_error = ON_ERROR(self._on_error)
        self.on_state = ON_STATE(self._on_state)
        self.callbacks = SseCallbacks(
            None, self.on_open, self.on_event, self.on_comment, self.on_error, self.on_state
        )

    def _add(self, item):
        with self.cond:
            self.log.append(item)
            self.threads.add(threading.get_ident())
            self.cond.notify_all()

    def _on_open(self, _userdata, status):
        self._add(("open", status))

    def _on_event(self, _userdata, event):
        self._add(("event", event_to_tuple(event.contents)))

    def _on_comment(self, _userdata, text, length):
        self._add(("comment", string_at(text, length).decode("utf-8")))

    def _on_error(self, _userdata, error):
        e = error.contents
        message = e.message.decode("utf-8") if e.message is not None else None
        self._add(("error", (e.kind, e.http_status, message, e.will_retry, e.retry_delay_ms)))
        plain = e.plain_message.decode("utf-8") if e.plain_message is not None else None
        remedies = [(e.remedies[i].setting, e.remedies[i].at) for i in range(e.remedy_count)]
        with self.cond:
            self.error_words.append((plain, remedies))  # apart from log: its order is tested

    def _on_state(self, _userdata, state):
        self._add(("state", state))

    def of(self, what):
        with self.cond:
            return [value for kind, value in self.log if kind == what]

    def wait_for(self, predicate, timeout=TIMEOUT):
        with self.cond:
            return self.cond.wait_for(lambda: predicate(self), timeout)


# ---------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------


class AbiBasics(unittest.TestCase):
    def test_version_is_major_minor_patch_and_matches_cargo_toml(self):
        version = LIB.sse_version().decode("utf-8")
        self.assertRegex(version, r"^\d+\.\d+\.\d+$")
        with open(os.path.join(REPO_ROOT, "Cargo.toml"), encoding="utf-8") as f:
            match = re.search(r'^version\s*=\s*"([^"]+)"', f.read(), re.M)
        if match:
            self.assertEqual(version, match.group(1))

    def test_result_names_are_the_enum_names(self):
        for code, name in RESULT_NAMES.items():
            self.assertEqual(LIB.sse_result_name(code).decode("utf-8"), name)

    def test_bad_url_is_rejected_with_a_message(self):
        cfg = c_void_p()
        rc = LIB.sse_config_new(b"ftp://x", byref(cfg))
        self.assertEqual(rc, SSE_ERROR_INVALID_URL, RESULT_NAMES.get(rc, rc))
        self.assertIsNone(cfg.value, "*out must not be written on failure")
        self.assertNotEqual(last_error(), "", "sse_last_error_message is empty")
        rc = LIB.sse_config_new(b"not a url", byref(cfg))
        self.assertEqual(rc, SSE_ERROR_INVALID_URL, RESULT_NAMES.get(rc, rc))
        rc = LIB.sse_config_new(None, byref(cfg))
        self.assertEqual(rc, SSE_ERROR_NULL_ARGUMENT, RESULT_NAMES.get(rc, rc))
        self.assertNotEqual(last_error(), "")

    def test_header_injection_is_rejected(self):
        cfg = new_config("http://127.0.0.1:1/events")
        try:
            rc = LIB.sse_config_set_header(cfg, b"X-A", b"1\r\nB: 2")
            self.assertEqual(rc, SSE_ERROR_INVALID_ARGUMENT, RESULT_NAMES.get(rc, rc))
            self.assertNotEqual(last_error(), "", "sse_last_error_message is empty")
            rc = LIB.sse_config_set_header(cfg, b"X-A\r\nB", b"2")
            self.assertEqual(rc, SSE_ERROR_INVALID_ARGUMENT, RESULT_NAMES.get(rc, rc))
            rc = LIB.sse_config_set_header(cfg, b"X-A", b"1")
            self.assertEqual(rc, SSE_OK, last_error())
            rc = LIB.sse_config_set_last_event_id(cfg, b"a\nb")
            self.assertEqual(rc, SSE_ERROR_INVALID_ARGUMENT, RESULT_NAMES.get(rc, rc))
        finally:
            LIB.sse_config_free(cfg)

    def test_null_handles_are_errors_not_crashes(self):
        msg = c_void_p()
        self.assertEqual(LIB.sse_client_poll(None, 0, byref(msg)), SSE_ERROR_NULL_ARGUMENT)
        self.assertEqual(LIB.sse_client_ready_state(None), SSE_STATE_CLOSED)
        self.assertEqual(LIB.sse_client_wakeup_fd(None), -1)
        self.assertEqual(LIB.sse_client_wakeup_handle(None), -1)
        self.assertEqual(LIB.sse_client_last_event_id(None, None, 0), 0)
        self.assertEqual(LIB.sse_message_kind_of(None), SSE_MESSAGE_STATE)
        self.assertFalse(LIB.sse_message_event(None))
        LIB.sse_client_close(None)
        LIB.sse_client_free(None)
        LIB.sse_config_free(None)
        LIB.sse_message_free(None)
        out = c_void_p()
        self.assertEqual(LIB.sse_client_open(None, None, byref(out)), SSE_ERROR_NULL_ARGUMENT)
        self.assertIsNone(out.value)


class CallbackMode(unittest.TestCase):
    def setUp(self):
        self.server = ScriptedSseServer(standard_script())
        self.addCleanup(self.server.stop)

    def test_receives_events_and_reconnects_with_last_event_id(self):
        rec = Recorder()
        cfg = new_config(self.server.url)
        client = c_void_p()
        rc = LIB.sse_client_open(cfg, byref(rec.callbacks), byref(client))
        LIB.sse_config_free(cfg)  # the client copied it
        self.assertEqual(rc, SSE_OK, last_error())
        # Freed after the test, pass or fail; the recorder (and its CFUNCTYPE objects)
        # stays referenced by the test case until then.
        self.rec = rec
        self.addCleanup(LIB.sse_client_free, client)
        try:
            got_all = rec.wait_for(lambda r: len(r.of("event")) >= len(EXPECTED_EVENTS))
            self.assertTrue(
                got_all,
                "timed out: callbacks %r; server requests %r; server problems %r"
                % (rec.log, self.server.requests, self.server.problems),
            )
            self.assertEqual(self.server.problems, [])
            self.assertEqual(rec.of("event"), EXPECTED_EVENTS)

            # The reconnect carried the last event ID.
            self.assertGreaterEqual(len(self.server.requests), 2)
            self.assertNotIn("last-event-id", self.server.requests[0][1])
            self.assertEqual(self.server.requests[1][1].get("last-event-id"), "3")
            self.assertEqual(
                self.server.requests[0][1].get("accept"), "text/event-stream"
            )

            self.assertEqual(rec.of("open"), [200, 200])
            self.assertEqual(rec.of("comment"), ["hello comment"])
            errors = rec.of("error")
            self.assertEqual(len(errors), 1, errors)
            kind, status, message, will_retry, delay = errors[0]
            self.assertEqual(kind, SSE_ERROR_KIND_STREAM_ENDED, errors[0])
            self.assertEqual(status, 0)
            self.assertTrue(message, "an error has a message")
            # 1.1.0: a stream that ended names no setting: the plain message is the message.
            self.assertEqual(rec.error_words, [(message, [])])
            self.assertTrue(will_retry)
            # retry: 50 replaced the configured 10 ms; jitter adds at most half, and the
            # configured maximum (100 ms) caps it.
            self.assertTrue(50 <= delay <= 100, "retry_delay_ms = %d" % delay)

            states = [state_name(s) for s in rec.of("state")]
            if states and states[0] == "CONNECTING":
                states = states[1:]  # the initial state is CONNECTING already
            self.assertEqual(states, ["OPEN", "CONNECTING", "OPEN"])
            # on_open comes before its OPEN state change.
            kinds = [k for k, _ in rec.log if k in ("open", "state")]
            self.assertEqual(kinds[kinds.index("open") + 1], "state")

            # Callbacks run on the client's own worker thread, not ours.
            self.assertEqual(len(rec.threads), 1)
            self.assertNotIn(threading.get_ident(), rec.threads)

            self.assertEqual(LIB.sse_client_ready_state(client), SSE_STATE_OPEN)
            self.assertEqual(client_last_event_id(client), "4")
            buf = create_string_buffer(b"zz", 2)
            self.assertEqual(LIB.sse_client_last_event_id(client, buf, 1), 1)
            self.assertEqual(buf.raw, b"\0z", "snprintf-style truncation")

            # Poll mode functions refuse a callback client.
            msg = c_void_p()
            self.assertEqual(LIB.sse_client_poll(client, 0, byref(msg)), SSE_ERROR_WRONG_MODE)
            self.assertEqual(LIB.sse_client_wakeup_fd(client), -1)
            self.assertEqual(LIB.sse_client_wakeup_handle(client), -1)
        finally:
            LIB.sse_client_close(client)
        self.assertEqual(LIB.sse_client_ready_state(client), SSE_STATE_CLOSED)
        logged = len(rec.log)
        time.sleep(0.2)
        self.assertEqual(len(rec.log), logged, "a callback ran after sse_client_close")
        LIB.sse_client_close(client)  # idempotent

    def test_configured_last_event_id_is_sent_on_first_connect(self):
        self.server.stop()
        self.server = ScriptedSseServer(
            [Connection(b"id: 8\ndata: x\n\n", hold_open=True, expect_last_event_id="7")]
        )
        self.addCleanup(self.server.stop)
        rec = Recorder()
        cfg = new_config(self.server.url)
        self.assertEqual(LIB.sse_config_set_last_event_id(cfg, b"7"), SSE_OK)
        client = c_void_p()
        rc = LIB.sse_client_open(cfg, byref(rec.callbacks), byref(client))
        LIB.sse_config_free(cfg)
        self.assertEqual(rc, SSE_OK, last_error())
        self.rec = rec
        self.addCleanup(LIB.sse_client_free, client)
        self.assertTrue(
            rec.wait_for(lambda r: r.of("event")),
            "timed out: %r; server problems %r" % (rec.log, self.server.problems),
        )
        self.assertEqual(self.server.problems, [])
        self.assertEqual(rec.of("event"), [("message", "x", "8")])


class PollMode(unittest.TestCase):
    def setUp(self):
        self.server = ScriptedSseServer(standard_script())
        self.addCleanup(self.server.stop)

    def open_poll_client(self, url):
        cfg = new_config(url)
        client = c_void_p()
        rc = LIB.sse_client_open(cfg, None, byref(client))
        LIB.sse_config_free(cfg)
        self.assertEqual(rc, SSE_OK, last_error())
        self.addCleanup(LIB.sse_client_free, client)
        return client

    @staticmethod
    def take(msg):
        """One message as a Python tuple; the views are copied before sse_message_free."""
        kind = LIB.sse_message_kind_of(msg)
        if kind == SSE_MESSAGE_OPEN:
            return ("open", LIB.sse_message_http_status(msg))
        if kind == SSE_MESSAGE_EVENT:
            ev = LIB.sse_message_event(msg)
            assert ev, "sse_message_event returned NULL for an EVENT message"
            return ("event", event_to_tuple(ev.contents))
        if kind == SSE_MESSAGE_COMMENT:
            n = c_size_t(12345)
            text = LIB.sse_message_comment(msg, byref(n))
            assert text, "sse_message_comment returned NULL for a COMMENT message"
            return ("comment", string_at(text, n.value).decode("utf-8"))
        if kind == SSE_MESSAGE_ERROR:
            e = LIB.sse_message_error(msg).contents
            return ("error", (e.kind, e.will_retry, e.retry_delay_ms))
        if kind == SSE_MESSAGE_STATE:
            return ("state", state_name(LIB.sse_message_state(msg)))
        return ("unknown kind", kind)

    def drain(self, client):
        """Takes every queued message with a 0 ms poll until SSE_ERROR_TIMEOUT."""
        items = []
        while True:
            msg = c_void_p()
            rc = LIB.sse_client_poll(client, 0, byref(msg))
            if rc != SSE_OK:
                self.assertEqual(rc, SSE_ERROR_TIMEOUT, RESULT_NAMES.get(rc, rc))
                self.assertIsNone(msg.value, "*out must not be written on failure")
                return items
            try:
                items.append(self.take(msg))
            finally:
                LIB.sse_message_free(msg)

    def test_wakeup_handle_and_drain_until_timeout(self):
        client = self.open_poll_client(self.server.url)
        try:
            # select() takes the handle on every platform: a descriptor on POSIX (the
            # wakeup fd), a SOCKET on Windows (where there is no wakeup fd).
            handle = LIB.sse_client_wakeup_handle(client)
            self.assertGreaterEqual(handle, 0)
            self.assertEqual(LIB.sse_client_wakeup_handle(client), handle, "not stable")
            fd = LIB.sse_client_wakeup_fd(client)
            self.assertEqual(fd, handle if os.name == "posix" else -1)
            items = []
            wakeups = 0
            deadline = time.monotonic() + TIMEOUT
            while len([i for i in items if i[0] == "event"]) < len(EXPECTED_EVENTS):
                left = deadline - time.monotonic()
                self.assertGreater(
                    left,
                    0,
                    "timed out: messages %r; server problems %r"
                    % (items, self.server.problems),
                )
                readable, _, _ = select.select([handle], [], [], left)
                if not readable:
                    continue
                wakeups += 1
                batch = self.drain(client)
                self.assertTrue(batch, "the wakeup handle was readable with nothing queued")
                items.extend(batch)
                # Drained: the handle must no longer be readable (until the next message).
                readable, _, _ = select.select([handle], [], [], 0)
                if readable:
                    more = self.drain(client)
                    self.assertTrue(more, "the wakeup handle stayed readable on an empty queue")
                    items.extend(more)

            self.assertEqual(self.server.problems, [])
            self.assertEqual([v for k, v in items if k == "event"], EXPECTED_EVENTS)
            self.assertEqual(self.server.requests[1][1].get("last-event-id"), "3")
            self.assertEqual([v for k, v in items if k == "open"], [200, 200])
            self.assertEqual([v for k, v in items if k == "comment"], ["hello comment"])
            errors = [v for k, v in items if k == "error"]
            self.assertEqual(len(errors), 1, errors)
            self.assertEqual(errors[0][0], SSE_ERROR_KIND_STREAM_ENDED)
            self.assertTrue(errors[0][1], "will_retry")
            states = [v for k, v in items if k == "state"]
            if states and states[0] == "CONNECTING":
                states = states[1:]
            self.assertEqual(states, ["OPEN", "CONNECTING", "OPEN"])
            # Order: open before the first event, the comment before event 1.
            order = [k for k, _ in items]
            self.assertLess(order.index("open"), order.index("event"))
            self.assertLess(order.index("comment"), order.index("event"))
            self.assertEqual(client_last_event_id(client), "4")
        finally:
            LIB.sse_client_close(client)
        # Closed and drained: poll says CLOSED, and a blocking poll does not block.
        leftover = []
        for _ in range(100):
            msg = c_void_p()
            rc = LIB.sse_client_poll(client, 1000, byref(msg))
            if rc != SSE_OK:
                break
            leftover.append(self.take(msg))
            LIB.sse_message_free(msg)
        self.assertEqual(rc, SSE_ERROR_CLOSED, RESULT_NAMES.get(rc, rc))
        self.assertEqual(LIB.sse_client_ready_state(client), SSE_STATE_CLOSED)

    def test_batches_carry_the_same_sequence_as_single_messages(self):
        client = self.open_poll_client(self.server.url)
        try:
            handle = LIB.sse_client_wakeup_handle(client)
            items = []
            deadline = time.monotonic() + TIMEOUT
            while len([i for i in items if i[0] == "event"]) < len(EXPECTED_EVENTS):
                left = deadline - time.monotonic()
                self.assertGreater(left, 0, "timed out: messages %r" % (items,))
                readable, _, _ = select.select([handle], [], [], left)
                if not readable:
                    continue
                batch = c_void_p()
                rc = LIB.sse_client_poll_batch(client, 0, byref(batch))
                self.assertEqual(rc, SSE_OK, "readable handle, but %s" % RESULT_NAMES.get(rc, rc))
                try:
                    count = LIB.sse_batch_len(batch)
                    self.assertGreater(count, 0)
                    self.assertIsNone(LIB.sse_batch_get(batch, count))
                    items.extend(self.take(LIB.sse_batch_get(batch, i)) for i in range(count))
                finally:
                    LIB.sse_batch_free(batch)
            self.assertEqual([v for k, v in items if k == "event"], EXPECTED_EVENTS)
            self.assertEqual([v for k, v in items if k == "comment"], ["hello comment"])
            self.assertEqual([v for k, v in items if k == "open"], [200, 200])
            order = [k for k, _ in items]
            self.assertLess(order.index("open"), order.index("event"))
        finally:
            LIB.sse_client_close(client)
        batch = c_void_p()
        self.assertEqual(LIB.sse_client_poll_batch(None, 0, byref(batch)), SSE_ERROR_NULL_ARGUMENT)
        self.assertIsNone(batch.value)

    def test_data_with_nul_byte_is_delivered_whole(self):
        self.server.stop()
        self.server = ScriptedSseServer(
            [Connection(b"id: n\ndata: a\x00b\n\n", hold_open=True)]
        )
        self.addCleanup(self.server.stop)
        client = self.open_poll_client(self.server.url)
        try:
            deadline = time.monotonic() + TIMEOUT
            events = []
            while not events and time.monotonic() < deadline:
                msg = c_void_p()
                rc = LIB.sse_client_poll(client, 100, byref(msg))
                if rc == SSE_OK:
                    if LIB.sse_message_kind_of(msg) == SSE_MESSAGE_EVENT:
                        ev = LIB.sse_message_event(msg).contents
                        events.append(string_at(ev.data, ev.data_len))
                    LIB.sse_message_free(msg)
                else:
                    self.assertEqual(rc, SSE_ERROR_TIMEOUT, RESULT_NAMES.get(rc, rc))
            self.assertEqual(events, [b"a\x00b"])
        finally:
            LIB.sse_client_close(client)

    def test_message_outlives_its_client(self):
        cfg = new_config(self.server.url)
        client = c_void_p()
        rc = LIB.sse_client_open(cfg, None, byref(client))
        LIB.sse_config_free(cfg)
        self.assertEqual(rc, SSE_OK, last_error())
        kept = None
        deadline = time.monotonic() + TIMEOUT
        try:
            while kept is None and time.monotonic() < deadline:
                msg = c_void_p()
                rc = LIB.sse_client_poll(client, 100, byref(msg))
                if rc != SSE_OK:
                    continue
                if LIB.sse_message_kind_of(msg) == SSE_MESSAGE_EVENT:
                    kept = msg
                else:
                    LIB.sse_message_free(msg)
        finally:
            LIB.sse_client_free(client)
        self.assertIsNotNone(kept, "no event within %s s" % TIMEOUT)
        try:
            self.assertEqual(
                event_to_tuple(LIB.sse_message_event(kept).contents), EXPECTED_EVENTS[0]
            )
        finally:
            LIB.sse_message_free(kept)

class OutOfRangeValues(unittest.TestCase):
    """ctypes passes any int where the header says enum, any byte where it says bool."""

    def setUp(self):
        self.cfg = new_config("http://127.0.0.1:1/")

    def tearDown(self):
        LIB.sse_config_free(self.cfg)

    def test_result_name_of_an_unknown_value_is_sse_unknown(self):
        for value in (9, 77, -1, 2**31 - 1, -(2**31)):
            self.assertEqual(LIB.sse_result_name(value), b"SSE_UNKNOWN", value)

    def test_an_unknown_trust_roots_is_an_invalid_argument_naming_the_value(self):
        for value in (2, 77, -1):
            rc = LIB.sse_config_set_trust_roots(self.cfg, value)
            self.assertEqual(rc, SSE_ERROR_INVALID_ARGUMENT, value)
            self.assertIn("roots is %d" % value, last_error())
            self.assertIn("valid: 0 to 1", last_error())
        self.assertEqual(LIB.sse_config_set_trust_roots(self.cfg, 1), SSE_OK)

    def test_a_bool_byte_other_than_0_or_1_is_an_invalid_argument(self):
        for setter in (LIB.sse_config_set_proxy_from_env, LIB.sse_config_set_retry_non_get):
            for value in (2, 255):
                self.assertEqual(setter(self.cfg, value), SSE_ERROR_INVALID_ARGUMENT, value)
                self.assertIn("enabled is %d" % value, last_error())
            self.assertEqual(setter(self.cfg, 1), SSE_OK)
            self.assertEqual(setter(self.cfg, 0), SSE_OK)

    def test_an_unknown_log_level_installs_the_callback_at_warn_with_a_warning(self):
        for value in (77, 0, -1):
            records = []
            callback = ON_LOG(lambda _ud, level, text: records.append((level, text.decode())))
            LIB.sse_set_log_callback(callback, None, value)
            try:
                self.assertEqual(len(records), 1, records)
                level, text = records[0]
                self.assertEqual(level, SSE_LOG_WARN)
                self.assertIn("max_level is %d" % value, text)
            finally:
                LIB.sse_set_log_callback(ON_LOG(), None, SSE_LOG_WARN)

    def test_error_count_refuses_an_unknown_kind_and_null_arguments(self):
        client = c_void_p()
        self.assertEqual(LIB.sse_config_set_max_retries(self.cfg, 1), SSE_OK)
        self.assertEqual(LIB.sse_client_open(self.cfg, None, byref(client)), SSE_OK, last_error())
        try:
            count = c_uint64(12345)
            for kind in (7, 99, -1):
                rc = LIB.sse_client_error_count(client, kind, byref(count))
                self.assertEqual(rc, SSE_ERROR_INVALID_ARGUMENT, kind)
                self.assertIn("kind is %d" % kind, last_error())
                self.assertIn("valid: 0 to 6", last_error())
            self.assertEqual(count.value, 12345, "*out is not written on failure")
            rc = LIB.sse_client_error_count(None, SSE_ERROR_KIND_CONNECT, byref(count))
            self.assertEqual(rc, SSE_ERROR_NULL_ARGUMENT)
            rc = LIB.sse_client_error_count(client, SSE_ERROR_KIND_CONNECT, None)
            self.assertEqual(rc, SSE_ERROR_NULL_ARGUMENT)
            for kind in range(7):
                rc = LIB.sse_client_error_count(client, kind, byref(count))
                self.assertEqual(rc, SSE_OK, last_error())
        finally:
            LIB.sse_client_free(client)


def main(argv):
    global LIB
    path = argv[1] if len(argv) > 1 else DEFAULT_LIBRARY
    if not os.path.exists(path):
        print("library not found: %s (run `cargo build` first)" % path, file=sys.stderr)
        return 2
    LIB = load_library(path)
    print("testing %s (sse_version %s)" % (path, LIB.sse_version().decode()), flush=True)
    program = unittest.main(argv=[argv[0]], exit=False, verbosity=2)
    result = program.result
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    sys.stderr.flush()
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 0 if result.wasSuccessful() and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
