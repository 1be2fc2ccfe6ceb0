"""A local HTTP server for download tests: nothing leaves 127.0.0.1."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest


def closed_ports(n: int) -> list[int]:
    """n distinct local ports nobody listens on (bound together, so they differ)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.fixture
def server():
    """A local HTTP server: routes[path] = bytes; hits records each requested path."""
    routes: dict[str, bytes] = {}
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            body = routes.get(self.path)
            if body is None:
                self.send_error(404)
                return
            declared = len(body)
            if isinstance(body, tuple):  # (bytes, declared length): a cut-off transfer
                body, declared = body
            self.send_response(200)
            self.send_header("Content-Length", str(declared))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep test output clean
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield base, routes, hits
    finally:
        httpd.shutdown()
        httpd.server_close()
