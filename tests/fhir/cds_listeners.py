"""Real HTTP listeners on 127.0.0.1 for the CDS Hooks security tests: each serves fixed JSON
answers by path and records every request it received (method, path with query, headers), so
that a test can show that a server got no request, or no token.

Imported by the test modules (not a conftest.py: see fhir_support.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Received:
    method: str
    path: str  # with the query string
    headers: dict[str, str]

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


class Listener:
    """A threaded http.server answering ``answers[path]`` (path without the query) as JSON."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, Any]] = {}
        self.received: list[Received] = []
        self._lock = threading.Lock()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                listener._answer(self)

            def do_POST(self) -> None:
                listener._answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.received.append(
                Received(
                    handler.command,
                    handler.path,
                    {k.lower(): v for k, v in handler.headers.items()},
                )
            )
        status, body = self.answers.get(
            handler.path.split("?")[0],
            (404, {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]}),
        )
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/fhir+json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def serve(self, path: str, body: Any, status: int = 200) -> None:
        self.answers[path] = (status, body)

    def paths(self) -> list[str]:
        with self._lock:
            return [r.path.split("?")[0] for r in self.received]

    def tokens(self) -> set[str | None]:
        with self._lock:
            return {r.authorization for r in self.received}

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
        self.answers.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@pytest.fixture
def listener() -> Iterator[Listener]:
    found = Listener()
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture
def other_listener() -> Iterator[Listener]:
    """A second server on another origin (another port)."""
    found = Listener()
    try:
        yield found
    finally:
        found.stop()
