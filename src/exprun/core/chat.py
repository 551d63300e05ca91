"""One OpenAI-compatible chat call, shared by code generation, the code review and the analysis note.

Any endpoint that serves `POST {base_url}/chat/completions` works (vLLM, Ollama, a hosted API). The
API key is read from the environment variable the config names and goes only into the request header;
errors name the endpoint, never the key.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from exprun.core.errors import ExprunError

MAX_REPLY_BYTES = 8_000_000  # a reply larger than this is refused before it is parsed


class ChatError(ExprunError):
    """The endpoint could not be reached or did not answer like an OpenAI chat endpoint."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would carry the Authorization header to wherever it points: refused (set base_url to the
    final address instead)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(
            req.full_url, code, f"redirected to {newurl}; set base_url to that address", headers, fp
        )


OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str
    api_key_env: str
    timeout_s: float = 120
    temperature: float = 0.0
    max_tokens: int = 0  # 0: the endpoint's default
    api_key: str = field(default="", repr=False)  # read from a file (.env) rather than the environment; never shown

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"


def complete(endpoint: Endpoint, system: str, user: str, json_reply: bool = False) -> str:
    """The assistant's message text; ChatError with one line naming the endpoint otherwise."""
    body: dict = {
        "model": endpoint.model,
        "temperature": endpoint.temperature,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
    }
    if endpoint.max_tokens:
        body["max_tokens"] = endpoint.max_tokens
    if json_reply:
        body["response_format"] = {"type": "json_object"}
    headers = {"Content-Type": "application/json"}
    key = endpoint.api_key or (os.environ.get(endpoint.api_key_env, "") if endpoint.api_key_env else "")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(endpoint.url, data=json.dumps(body).encode(), headers=headers, method="POST")
    where = f"POST {endpoint.url}"
    try:
        with OPENER.open(request, timeout=endpoint.timeout_s) as response:
            raw = response.read(MAX_REPLY_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise ChatError(f"{where}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = "timed out" if isinstance(exc.reason, socket.timeout) else str(exc.reason)
        raise ChatError(f"{where}: {reason}") from None
    except TimeoutError:
        raise ChatError(f"{where}: no answer within {endpoint.timeout_s:g} s (timed out)") from None
    except http.client.HTTPException as exc:  # not an HTTP server there (a wrong port), a cut answer
        said = " ".join(str(exc).split())[:120]
        raise ChatError(f"{where}: not an HTTP answer ({type(exc).__name__}: {said})") from None
    except OSError as exc:
        raise ChatError(f"{where}: {exc}") from None
    if len(raw) > MAX_REPLY_BYTES:
        raise ChatError(f"{where}: reply larger than {MAX_REPLY_BYTES} bytes, refused")
    try:
        content = json.loads(raw.decode("utf-8"))["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ChatError(
            f"{where}: the reply is not an OpenAI chat completion (no choices[0].message.content)"
        ) from None
    if not isinstance(content, str) or not content.strip():
        raise ChatError(f"{where}: the reply's message is empty")
    return content
