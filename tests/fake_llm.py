"""A real OpenAI-compatible HTTP endpoint on 127.0.0.1 with scripted replies (the one paid API we fake).

`llm.script(...)` queues replies, answered in order; after the queue the default `body` answers.
Every request is kept (path, headers, JSON body) so tests see exactly what was sent.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def chat_reply(content) -> bytes:
    return json.dumps(
        {
            "id": "x",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        }
    ).encode()


def files_reply(files: dict[str, str], notes: str = "", fenced: bool = False) -> bytes:
    """A code generator's reply: {"files": {...}, "notes": ...} as the message content."""
    content = json.dumps({"files": files, "notes": notes})
    return chat_reply(f"Here is the code.\n```json\n{content}\n```\n" if fenced else content)


def whole_files_reply(files: dict[str, str], notes: str = "Here are the files.") -> bytes:
    """A coding agent's model reply in aider's "whole" edit format: each file's path on a line, then the whole
    file in a fenced block."""
    listings = "".join(f"\n{path}\n```\n{text.rstrip()}\n```\n" for path, text in files.items())
    return chat_reply(notes + "\n" + listings)


class FakeLLM:
    def __init__(self) -> None:
        self.status = 200
        self.body = chat_reply("VERDICT: ok")
        self.delay_s = 0.0
        self.requests: list[dict] = []
        self.base_url = ""
        self._queue: list[tuple] = []
        self._lock = threading.Lock()

    def script(self, *replies) -> None:
        """Queue replies: bytes (a 200 body), (status, bytes) or (status, bytes, extra headers)."""
        with self._lock:
            self._queue += [(r + ({},))[:3] if isinstance(r, tuple) else (200, r, {}) for r in replies]

    def next_reply(self) -> tuple[int, bytes, dict]:
        with self._lock:
            return self._queue.pop(0) if self._queue else (self.status, self.body, {})

    def user_messages(self) -> list[str]:
        return [json.loads(r["body"])["messages"][-1]["content"] for r in self.requests]


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def start(state: FakeLLM) -> _Server:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.requests.append(
                {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": raw}
            )
            status, body, extra = state.next_reply()
            if state.delay_s:
                time.sleep(state.delay_s)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client gave up (timeout tests)
                pass

        def log_message(self, *args):
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    return server
