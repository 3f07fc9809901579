"""A real HTTP server on 127.0.0.1 that answers every request with one canned response.

For the faults a well-behaved fake never produces: an HTML page where JSON belongs, an empty
200, a 401 that echoes the key it was sent, a gzip bomb::

    with CannedServer(401, "application/json", lambda auth: f"bad key {auth}".encode()) as server:
        ...  # point the client at server.base_url
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class CannedServer:
    """``body`` is bytes, or a function of the request's ``Authorization`` header; ``headers``
    are sent as given (``Content-Encoding: gzip`` with a compressed body, say)."""

    def __init__(self, status: int, content_type: str, body: bytes | Callable[[str], bytes],
                 headers: dict[str, str] | None = None) -> None:
        self.status, self.content_type, self.body, self.headers = status, content_type, body, headers or {}
        self.bodies: list[bytes] = []     # every request body, in arrival order
        canned = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                canned.bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                body = canned.body(self.headers.get("Authorization", "")) if callable(canned.body) else canned.body
                self.send_response(canned.status)
                self.send_header("Content-Type", canned.content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in canned.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:   # quiet under pytest
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="CannedServer", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> "CannedServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
