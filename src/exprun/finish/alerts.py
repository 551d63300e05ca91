"""What a look at a run tells the person (run/notify.py): status, a collect and a watch raise the same events from
what they saw — anomaly and stalled while the run goes, crashed or ended once it has ended — and a collect raises
`collected` with the outcome. Nothing is computed when `notify:` names no target."""

from __future__ import annotations

from pathlib import Path

from exprun.core.settings import Settings
from exprun.finish.inspection import Inspection
from exprun.machines.launchers.base import RunRecord
from exprun.run import notify, notify_events


def after_look(seen: Inspection, settings: Settings, root: Path, by: str) -> None:
    """The events of what `seen` shows (each sent once per run, whoever looks first)."""
    if not settings.notify:
        return
    record = seen.record
    if seen.state.alive:
        events = notify_events.while_running(record, root, seen.anomalies, seen.progress)
    else:
        events = [notify_events.has_ended(record, root, seen.state, seen.anomalies, seen.progress)]
    notify_events.announce_all(events, settings.notify, root, by)


def after_collect(record: RunRecord | None, data: dict, settings: Settings, root: Path) -> None:
    """`collected`, with the outcome and the key result, once the page says completed."""
    if settings.notify and record is not None and data.get("status") == "completed":
        notify.announce(notify_events.collected(record, root, data), settings.notify, root, "collect")
