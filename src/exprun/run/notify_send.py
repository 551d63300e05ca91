"""One message to apprise URLs: secrets read from the environment at the moment it goes out, a short timeout, and
an answer per target (delivered, or why not) instead of an exception — a notification never stops a run or a collect.

A URL is configured with `${NAME}` where a secret goes; the value is put in only here, in memory, and never leaves
this module: what a person sees of a target (`shown`) is apprise's own privacy form of the URL (passwords and tokens
cut down) without its query, with every value that came from the environment written back as `${NAME}`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass

TIMEOUT_S = 10.0  # every target together: a message that cannot go out in this time is reported, not waited for
SOCKET_TIMEOUT_S = 5.0  # each connect and each read of one target
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
KINDS = ("info", "success", "warning", "failure")  # apprise's NotifyType values
ERROR_CHARS = 240


@dataclass
class Delivery:
    """What became of one target: `target` as shown (never a secret), delivered or the reason in one line."""

    target: str
    delivered: bool
    error: str = ""

    def as_dict(self) -> dict:
        return {"target": self.target, "delivered": self.delivered, **({"error": self.error} if self.error else {})}


class MissingSecret(Exception):
    """A `${NAME}` of a URL is not set in this environment."""


def expand(url: str, environ: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The URL with each `${NAME}` replaced by its value, and the values used (name -> value)."""
    used: dict[str, str] = {}

    def value(match: re.Match) -> str:
        name = match.group(1)
        if not environ.get(name):
            raise MissingSecret(f"${{{name}}} is not set in this environment")
        used[name] = environ[name]
        return environ[name]

    return ENV_REF.sub(value, url), used


def scrub(text: str, used: dict[str, str]) -> str:
    """Every value that came from the environment written back as `${NAME}` (longest first)."""
    for name, secret in sorted(used.items(), key=lambda item: -len(item[1])):
        if secret:
            text = text.replace(secret, f"${{{name}}}")
    return text


def shown(url: str, environ: dict[str, str] | None = None) -> str:
    """The URL as logs and `exprun status` show it: apprise's privacy form without the query, secrets from the
    environment as `${NAME}`; only `scheme://…` when apprise cannot read the URL (it may hold a secret anywhere)."""
    import os

    try:
        full, used = expand(url, dict(os.environ if environ is None else environ))
    except MissingSecret:
        full, used = ENV_REF.sub("x", url), {}
    plugin = _instantiate(full)
    if plugin is None:
        scheme = SCHEME.match(url)
        return f"{scheme.group(1) if scheme else '?'}://…"
    return scrub(str(plugin.url(privacy=True)).split("?", 1)[0], used)


def _instantiate(url: str):
    import apprise  # ~0.1 s: only when a message goes out

    return apprise.Apprise.instantiate(url, suppress_exceptions=True)


class _Captured(logging.Handler):
    """apprise's warnings and errors, by the thread that logged them (each target sends in a thread of its own)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: dict[int, list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.setdefault(record.thread or 0, []).append(record.getMessage())


def deliver(
    urls: list[str], title: str, body: str, kind: str = "info", environ: dict[str, str] | None = None
) -> list[Delivery]:
    """Send title and body (plain text) to every URL at once; one Delivery per URL, in order, within TIMEOUT_S."""
    import os

    environ = dict(os.environ if environ is None else environ)
    results: list[Delivery | None] = [None] * len(urls)
    captured = _Captured()
    logger = logging.getLogger("apprise")
    logger.addHandler(captured)
    try:
        threads = [
            threading.Thread(
                target=_send_one, args=(i, url, title, body, kind, environ, results, captured), daemon=True
            )
            for i, url in enumerate(urls)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + TIMEOUT_S
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
    finally:
        logger.removeHandler(captured)
    return [
        found or Delivery(_shown_quietly(url, environ), False, f"no answer within {TIMEOUT_S:g} s")
        for url, found in zip(urls, results, strict=True)
    ]


def _shown_quietly(url: str, environ: dict[str, str]) -> str:
    try:
        return shown(url, environ)
    except Exception:  # noqa: BLE001 - a target's name must never be what fails a report
        scheme = SCHEME.match(url)
        return f"{scheme.group(1) if scheme else '?'}://…"


def _send_one(
    index: int,
    url: str,
    title: str,
    body: str,
    kind: str,
    environ: dict[str, str],
    results: list[Delivery | None],
    captured: _Captured,
) -> None:
    target = _shown_quietly(url, environ)
    try:
        full, used = expand(url, environ)
    except MissingSecret as exc:
        results[index] = Delivery(target, False, f"{exc}; nothing was sent")
        return
    try:
        import apprise

        plugin = _instantiate(full)
        if plugin is None:
            why = _last(captured, used) or "apprise cannot send to this URL (unknown scheme or a malformed URL)"
            results[index] = Delivery(target, False, why)
            return
        plugin.socket_connect_timeout = min(float(plugin.socket_connect_timeout or SOCKET_TIMEOUT_S), SOCKET_TIMEOUT_S)
        plugin.socket_read_timeout = min(float(plugin.socket_read_timeout or SOCKET_TIMEOUT_S), SOCKET_TIMEOUT_S)
        sent = plugin.notify(
            title=title,
            body=body,
            notify_type=kind if kind in KINDS else "info",
            body_format=apprise.NotifyFormat.TEXT,
        )
    except Exception as exc:  # noqa: BLE001 - any plugin's failure is this target's answer, never the run's
        results[index] = Delivery(target, False, _one_line(scrub(f"{type(exc).__name__}: {exc}", used)))
        return
    why = "" if sent else (_last(captured, used) or "apprise reported a failure")
    results[index] = Delivery(target, bool(sent), why)


def _last(captured: _Captured, used: dict[str, str]) -> str:
    """The last thing apprise warned about in this thread, secrets scrubbed, one line."""
    lines = captured.lines.get(threading.get_ident(), [])
    return _one_line(scrub(lines[-1], used)) if lines else ""


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"
