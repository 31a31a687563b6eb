"""The app served by uvicorn on a free local port, in a thread, and a raw HTTP/1.1 client that
can hang up mid-answer (what a test client cannot do)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from tests.helpers import bearer, free_port

LOCAL_HOST = "127.0.0.1"


@contextmanager
def serve(app) -> Iterator[str]:
    """The app on a free port of 127.0.0.1, in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=LOCAL_HOST, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    try:
        yield f"http://{LOCAL_HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def raw_get(base_url: str, target: str) -> socket.socket:
    """A GET with a bearer token sent on a fresh socket; the caller reads (or hangs up)."""
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    headers = "".join(f"{k}: {v}\r\n" for k, v in bearer().items())
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode())
    return sock


def chunked_body(sock: socket.socket) -> bytes:
    """The whole body of a chunked HTTP/1.1 response, read to its last chunk."""
    received = b""
    while not received.endswith(b"0\r\n\r\n"):
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        received += chunk
    sock.close()
    rest = received.split(b"\r\n\r\n", 1)[1]
    body = bytearray()
    while True:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            return bytes(body)
        body += rest[:size]
        rest = rest[size + 2 :]


def assert_pool_idle(pool) -> None:
    """Every connection is back in the pool and nobody waits for one."""
    stats = pool.get_stats()
    assert stats["pool_available"] == stats["pool_size"] and stats.get("requests_waiting", 0) == 0
