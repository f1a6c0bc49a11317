"""A real HTTP receiver of webhooks on loopback, as an IT system runs one: it keeps what it is sent."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: Message
    """As sent; header names are case-insensitive."""
    body: bytes
    answered: int

    @property
    def event(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """Answers each POST with the next status of `answers` (then 200), and keeps the requests."""

    def __init__(self, answers: list[int] | None = None, port: int = 0) -> None:
        self.answers = list(answers or [])
        self.received: list[Received] = []
        self.port = port
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/oee"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.answers.pop(0) if receiver.answers else 200
                receiver.received.append(Received(self.headers, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def accepted(self) -> list[Received]:
        """What it took in (answered 2xx)."""
        return [r for r in self.received if 200 <= r.answered < 300]
