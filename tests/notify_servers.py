"""Real receivers on loopback for the notification tests: an HTTP endpoint that takes apprise's `json://` webhook,
an SMTP server (aiosmtpd) that takes `mailto://` mail, and an endpoint that accepts and never answers."""

from __future__ import annotations

import email
import email.policy
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


class Webhook:
    """Every POST it received, as apprise's JSON (title, message, type) plus the path it came to."""

    def __init__(self) -> None:
        received: list[dict] = []
        self.received = received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                received.append({**data, "path": self.path})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def titles(self) -> list[str]:
        return [m["title"] for m in self.received]

    def wait_for(self, count: int, timeout: float = 60.0) -> list[dict]:
        """The messages once `count` have arrived (or the deadline passed)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """An SMTP server on loopback; every mail it took, parsed."""

    def __init__(self) -> None:
        aiosmtpd = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd (the dev extra) is not installed")
        mails: list[email.message.EmailMessage] = []
        self.mails = mails

        class Handler:
            async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd calls it so
                mails.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
                return "250 OK"

        self.port = free_port()
        self.controller = aiosmtpd.Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def url(self, to: str = "ana@lab.example.org") -> str:
        return f"mailto://127.0.0.1:{self.port}?from=exprun@lab.example.org&to={to}&mode=insecure"

    def wait_for(self, count: int, timeout: float = 60.0) -> list:
        deadline = time.monotonic() + timeout
        while len(self.mails) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return list(self.mails)

    def close(self) -> None:
        self.controller.stop()


@contextmanager
def silent_endpoint() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung webhook); its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        for conn in held:
            conn.close()
        listener.close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    yield box
    box.close()
