"""Telling a person about a run: each event of a run sent once, to the targets of `notify:` that want it.

Events (EVENTS) are raised where exprun already sees them: a deploy (deployed), a look at a run by `exprun status`,
a collect or a watch (anomaly and stalled while it runs, crashed or ended once it has ended), the one automatic fix
(autofix), a collect (collected), and the run script itself when the program has ended (see notify_events.run_ended).

Once per run: before anything is sent, the event is claimed by creating
`experiments/state/<slug>/attempts/<n>/notify/<key>.json` exclusively, so a status every minute, a collect and the
run script racing each other send it once. The key is the event, its detail (an anomaly's kind) and, once the one
automatic fix relaunched the run, `after-fix` — what the relaunched run does is news again. The file then holds the
message and, per target, delivered or why not (the target as shown: secrets masked). A failed delivery is retried
by nothing: it is one line on stderr, and a section of `exprun status` until the next deploy.

Delivery never stops a run, a deploy or a collect: every call here answers instead of raising.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from exprun.core.errors import ExprunError
from exprun.core.files import atomic_write_json, read_json
from exprun.core.paths import Paths
from exprun.core.settings import NotifyTarget

EVENTS = ("deployed", "anomaly", "autofix", "stalled", "crashed", "ended", "collected")
# apprise's message type per event (how a chat app colours it); a collect's outcome may say otherwise
KIND = {
    "deployed": "info",
    "anomaly": "warning",
    "autofix": "warning",
    "stalled": "warning",
    "crashed": "failure",
    "ended": "success",
    "collected": "success",
}
TARGETS_FILE = "targets.json"  # what the run script notifies: the targets configured when the attempt was deployed
SENDING_STALE_S = 300  # a claim still "sending" after this long: its sender stopped before it finished
KEY_WORD = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass
class Event:
    """One thing to tell a person about one attempt of a run, in the words the message uses."""

    name: str  # one of EVENTS
    slug: str
    attempt: int
    what: str  # the outcome, the anomaly or the change, in words
    title: str = ""
    numbers: str = ""  # the key numbers
    elapsed: str = ""
    where: str = ""  # local (host), remote (server), slurm (host job N)
    next: str = ""  # the command that moves it on
    detail: str = ""  # what tells two events of one name apart in a run (an anomaly's kind)
    phase: str = ""  # "after-fix" once the one automatic fix relaunched the run
    kind: str = ""  # apprise's type; KIND[name] when empty
    extra: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return ".".join(KEY_WORD.sub("-", part) for part in (self.name, self.detail, self.phase) if part)

    @property
    def subject(self) -> str:
        about = f" ({self.detail})" if self.detail else ""
        return f"exprun: {self.slug} {self.name}{about}"

    @property
    def body(self) -> str:
        lines = [
            f"{self.slug} — {self.title}" if self.title and self.title != self.slug else self.slug,
            f"event: {self.name}" + (f" (attempt {self.attempt})" if self.attempt else ""),
            f"what: {self.what}",
        ]
        lines += [f"{label}: {value}" for label, value in self._facts() if value]
        return "\n".join(lines) + "\n"

    def _facts(self) -> list[tuple[str, str]]:
        phase = "after the automatic fix" if self.phase == "after-fix" else ""
        return [
            ("numbers", self.numbers),
            ("elapsed", self.elapsed),
            ("where", self.where),
            ("note", phase),
            ("next", self.next),
        ]


def wanted(targets: Sequence[NotifyTarget], name: str) -> list[str]:
    """The URLs (as configured) of the targets that want this event."""
    return [target.url for target in targets if name in target.events]


def folder(root: Path, slug: str, attempt: int) -> Path:
    """Where an attempt's notifications are recorded (a run exprun did not launch is attempt 0)."""
    return Paths(slug, root).state_attempts / str(int(attempt)) / "notify"


def announce(
    event: Event, targets: Sequence[NotifyTarget], root: Path, by: str, say: Callable[[str], None] | None = None
) -> dict | None:
    """Send the event to the targets that want it, unless this run's event was sent (or is being sent) already;
    the record written (None when nothing went out). Failures are said in one line each, never raised."""
    say = say or _stderr
    urls = wanted(targets, event.name)
    if not urls:
        return None
    try:
        path = folder(root, event.slug, event.attempt) / f"{event.key}.json"
        if not _claim(path, event, by):
            return None
        from exprun.run import notify_send

        deliveries = notify_send.deliver(urls, event.subject, event.body, event.kind or KIND.get(event.name, "info"))
        record = {
            **_header(event, by),
            "state": "done",
            "subject": event.subject,
            "body": event.body,
            "targets": [d.as_dict() for d in deliveries],
        }
        atomic_write_json(path, record)
    except (OSError, ExprunError) as exc:
        say(f"exprun: notify {event.slug} {event.key}: not sent ({exc})")
        return None
    for delivery in deliveries:
        if not delivery.delivered:
            say(f"exprun: notify {event.slug} {event.key} → {delivery.target}: not delivered ({delivery.error})")
    return record


def _header(event: Event, by: str) -> dict:
    return {
        "event": event.name,
        "key": event.key,
        "slug": event.slug,
        "attempt": event.attempt,
        "by": by,
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "pid": os.getpid(),
    }


def _claim(path: Path, event: Event, by: str) -> bool:
    """Create the event's record exclusively; False when another process created it first (it sends)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({**_header(event, by), "state": "sending"}, handle, indent=2, sort_keys=True)
        handle.write("\n")
    return True


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# The run script's own word: the targets it tells, recorded at deploy.


def remember_targets(targets: Sequence[NotifyTarget], root: Path, slug: str, attempt: int) -> None:
    """The targets of this attempt, for `exprun notify-ended` in its run script (which has no settings of its own):
    URLs as configured — `${NAME}` stays as written — readable by this user only."""
    if not targets:
        return
    path = folder(root, slug, attempt) / TARGETS_FILE
    data = [{"url": t.url, "events": list(t.events)} for t in targets]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
    except OSError as exc:  # the run goes on; its end is then told by the next status or collect
        _stderr(f"exprun: notify {slug}: the run script will not report its end ({path}: {exc.strerror})")


def remembered_targets(root: Path, slug: str, attempt: int) -> tuple[NotifyTarget, ...]:
    try:
        data = json.loads((folder(root, slug, attempt) / TARGETS_FILE).read_text(encoding="utf-8"))
        return tuple(NotifyTarget(str(t["url"]), tuple(t["events"])) for t in data)
    except (OSError, ValueError, TypeError, KeyError):
        return ()


def ended_hook(targets: Sequence[NotifyTarget], slug: str, attempt: int, root: Path) -> list[str]:
    """The command a run script runs once the program has ended and its exit status is written: exprun's own
    interpreter, `-m exprun notify-ended`. [] when no target wants ended or crashed."""
    if not (wanted(targets, "ended") or wanted(targets, "crashed")):
        return []
    where = str(Path(root).resolve())
    return [sys.executable, "-m", "exprun", "notify-ended", slug, "--attempt", str(int(attempt)), "--root", where]


# What `exprun status` shows.


def failures(slug: str, root: Path, attempt: int, now: datetime | None = None) -> list[dict]:
    """This attempt's notifications that did not reach a target (or whose sender stopped before it finished)."""
    now = now or datetime.now(timezone.utc)
    found = []
    place = folder(root, slug, attempt)
    for path in sorted(place.glob("*.json")) if place.is_dir() else []:
        if path.name == TARGETS_FILE:
            continue
        try:
            record = read_json(path)
        except (OSError, ValueError):
            continue
        base = {"experiment": slug, "event": record.get("key") or path.stem, "at": record.get("at", "")}
        if record.get("state") == "sending":
            if _age_s(record.get("at"), now) > SENDING_STALE_S:
                found.append({**base, "target": "—", "error": "the sender stopped before it finished"})
            continue
        found += [
            {**base, "target": t.get("target", "?"), "error": t.get("error", "")}
            for t in record.get("targets") or []
            if not t.get("delivered")
        ]
    return found


def _age_s(at: object, now: datetime) -> float:
    try:
        return (now - datetime.fromisoformat(str(at))).total_seconds()
    except (TypeError, ValueError):
        return float("inf")
