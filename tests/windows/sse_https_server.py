#!/usr/bin/env python3
"""A loopback HTTPS server for tests/windows/system_store.sh: every request gets a
text/event-stream response with one event whose data is DATA, then the connection is
closed.

    sse_https_server.py CERT_CHAIN.pem KEY.pem DATA

Listens on 127.0.0.1 on an ephemeral port and prints "port N" on its first line. Each
connection that fails (a client that refuses the certificate ends the handshake) is
reported on stderr. Runs until killed.
"""

import socket
import ssl
import sys
import threading

def serve(context: ssl.SSLContext, raw: socket.socket, data: str) -> None:
    raw.settimeout(30)
    try:
        with context.wrap_socket(raw, server_side=True) as conn:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            body = f"data: {data}\n\n".encode()
            conn.sendall(
                b"HTTP/1.1 200 OK\r\n"
                b"Content-Type: text/event-stream\r\n"
                b"Cache-Control: no-cache\r\n"
                b"Connection: close\r\n\r\n" + body
            )
    except (ssl.SSLError, OSError) as error:
        print(f"sse_https_server: connection refused by the client or broken: {error}",
              file=sys.stderr, flush=True)
    finally:
        raw.close()


def main() -> None:
    cert, key, data = sys.argv[1], sys.argv[2], sys.argv[3]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print(f"port {listener.getsockname()[1]}", flush=True)
    while True:
        raw, _ = listener.accept()
        threading.Thread(target=serve, args=(context, raw, data), daemon=True).start()


if __name__ == "__main__":
    main()
