"""The events of a run in the words a person reads (notify.Event): what happened, the key numbers, how long it has
run, where it runs and the command that moves it on — built from a run record and what was seen of it.

`run_ended` is the run script's own word. A detached run needs no exprun process alive to be heard of: where the
program ran on a machine with this exprun installed — screen here, a SLURM array submitted from this login node (its
nodes share the wiki root and exprun's interpreter) — the run script, after the program has ended and its exit status
is written, runs `<exprun's python> -m exprun notify-ended <slug> --attempt N` (notify.ended_hook; a SLURM task whose
node lacks that interpreter skips it). A run on the server of config/server.yaml (screen there, or a SLURM array
submitted there over SSH) has no exprun to call back: its end is raised by the next look from here — `exprun status`
(every minute from cron, if you like), a collect, `collect_ready` or a watch. No daemon is kept running for it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from exprun.core.durations import human_duration
from exprun.core.errors import ExprunError
from exprun.core.invocation import snakemake_command
from exprun.core.paths import Paths
from exprun.core.settings import NotifyTarget
from exprun.logs import monitor
from exprun.logs.logtail import tail_text, task_share
from exprun.machines.launchers.base import EXITED, LOST, Backend, RecordError, RunRecord, RunState, read_exit_code
from exprun.run import notify
from exprun.run.backends import launcher_class

RECORD_WAIT_S = 30.0  # the run script of a program that ended at once waits this long for deploy's run.json
NOT_NEWS = {"code_changed"}  # an edit of the live folder leaves the run unaffected: not worth a message


def phase(record: RunRecord) -> str:
    """`after-fix` once the one automatic fix relaunched the run: its events are news again."""
    return "after-fix" if any(h.get("event") == "relaunch" for h in record.history) else ""


def _title(slug: str, root: Path) -> str:
    from exprun.wiki import pages

    try:
        return str(pages.load_page(Paths(slug, root).page).get("title") or slug)
    except (ExprunError, OSError):
        return slug


def _where(record: RunRecord, root: Path) -> str:
    try:
        return launcher_class(record.backend)(root).describe(record)
    except (ExprunError, OSError):
        return record.backend.env_label


def _elapsed(record: RunRecord, now: datetime | None = None) -> str:
    try:
        started = datetime.fromisoformat(record.started_at)
    except (TypeError, ValueError):
        return ""
    if started.tzinfo is None:
        started = started.astimezone()
    return human_duration(((now or datetime.now(timezone.utc)) - started).total_seconds())


def _event(name: str, record: RunRecord, root: Path, what: str, **fields) -> notify.Event:
    """An event with the facts every message carries (title, elapsed time, where, the next command)."""
    slug = record.slug
    base = {
        "title": _title(slug, root),
        "elapsed": _elapsed(record),
        "where": _where(record, root),
        "next": collect_command(record),
        "phase": phase(record),
    }
    return notify.Event(name, slug, record.attempt, what, **{**base, **fields})


def progress_numbers(progress: monitor.Progress) -> str:
    """step, loss and up to three logged metrics: `step 60 / 100, epoch 1; loss 0.4; accuracy 0.91`."""
    parts = [progress.describe()] if progress.step is not None or progress.epoch is not None else []
    if progress.loss is not None:
        parts.append(f"loss {progress.loss:.4g}")
    parts += [f"{name} {value:.4g}" for name, value in list(progress.metrics.items())[-3:]]
    return "; ".join(parts)


def deployed(record: RunRecord, root: Path, estimate: str) -> notify.Event:
    tasks = record.env.get("EXPRUN_TASKS", "").split() or record.details.get("tasks") or []
    numbers = f"estimate {estimate}" + (f"; {len(tasks)} task(s)" if tasks else "")
    skipped = " (sanity skipped by --skip-sanity)" if record.sanity_skipped else ""
    return _event("deployed", record, root, f"launched{skipped}", numbers=numbers, elapsed="")


def autofix(record: RunRecord, root: Path, fix: dict) -> notify.Event:
    kind, change = str(fix.get("anomaly") or ""), str(fix.get("change") or "")
    applied = fix.get("applied", True)
    what = f"{kind} → {change}" if applied else f"{kind} → not applied: {change}"
    fields = {"numbers": str(fix.get("detail") or "")}
    if not applied:  # the person acts: what the anomaly asks for, then collect
        fields["next"] = f"{monitor.SUGGESTIONS.get(kind, 'read the log')}; then {collect_command(record)}"
    # the relaunch is this fix's own doing: the event belongs to the run it fixed
    return _event("autofix", record, root, what, detail=kind, phase="", **fields)


def collect_command(record: RunRecord) -> str:
    return snakemake_command(f"collect_{record.slug}")


def while_running(
    record: RunRecord, root: Path, anomalies: Sequence[monitor.Anomaly], progress: monitor.Progress
) -> list[notify.Event]:
    """One event per anomaly kind a live run shows (a stall is `stalled`, the rest `anomaly`)."""
    events = []
    for anomaly in anomalies:
        if anomaly.kind in NOT_NEWS:
            continue
        name = "stalled" if anomaly.kind == "stalled" else "anomaly"
        what = f"{anomaly.kind}: {anomaly.detail}" + (f" — {anomaly.suggestion}" if anomaly.suggestion else "")
        detail = "" if name == "stalled" else anomaly.kind
        events.append(_event(name, record, root, what, detail=detail, numbers=progress_numbers(progress)))
    return events


def has_ended(
    record: RunRecord, root: Path, state: RunState, anomalies: Sequence[monitor.Anomaly], progress: monitor.Progress
) -> notify.Event:
    """`crashed` when the run ended with a failure (an exit status not 0, lost, or a crash in its log), else
    `ended`: it ended cleanly and is ready to collect. One of the two, never both."""
    crash = next((a for a in anomalies if a.kind in monitor.CRASH_KINDS), None)
    failed = crash is not None or state.state == LOST or state.exit_code not in (0, None)
    if failed:
        what = f"{crash.kind}: {crash.detail}" if crash else (state.detail or "ended with a failure")
        suggestion = f" — {crash.suggestion}" if crash and crash.suggestion else ""
        return _event("crashed", record, root, what + suggestion, numbers=_end_numbers(state, progress))
    return _event("ended", record, root, "ended; ready to collect", numbers=_end_numbers(state, progress))


def _end_numbers(state: RunState, progress: monitor.Progress) -> str:
    code = f"exit status {state.exit_code}" if state.exit_code is not None else state.detail
    return "; ".join(part for part in (code, progress_numbers(progress)) if part)


def collected(record: RunRecord, root: Path, data: dict) -> notify.Event:
    """The collect's outcome and key result; the next step the RUN_REPORT gives first."""
    from exprun.verdict import reports

    outcome = str(data.get("outcome") or "")
    steps = reports.next_steps(data) if "slug" in data and "outcome" in data else []
    crash = data.get("crash") or {}
    what = f"outcome: {outcome}" + (f" (the run crashed: {crash.get('detail')})" if crash.get("detail") else "")
    return _event(
        "collected",
        record,
        root,
        what,
        numbers=str(data.get("key_result") or ""),
        next=steps[0].removeprefix("- ").replace("`", "") if steps else f"read wiki/experiments/{record.slug}.md",
        kind="success" if outcome == "succeeded" else "warning",
        phase="",  # a run is collected once, whatever happened to it before
    )


def announce_all(events: Sequence[notify.Event], targets: Sequence[NotifyTarget], root: Path, by: str) -> None:
    for event in events:
        notify.announce(event, targets, root, by)


# The run script's own word.


def run_ended(slug: str, attempt: int, root: Path, wait_s: float = RECORD_WAIT_S) -> str:
    """What `exprun notify-ended` does once the program has ended: when every task of this attempt has written
    its exit status, raise `ended` or `crashed` to the targets recorded at deploy. Answers in words; never raises."""
    root = Path(root)
    targets = notify.remembered_targets(root, slug, attempt)
    if not (notify.wanted(targets, "ended") or notify.wanted(targets, "crashed")):
        return "no target wants ended or crashed"
    record = _record_of(slug, attempt, root, wait_s)
    if record is None:
        return f"no run record of attempt {attempt} yet; the next exprun status or collect tells of its end"
    codes = exit_codes(record)
    if not codes or any(code is None for code in codes):
        return "not every task has ended yet"
    worst = next((code for code in codes if code), 0)
    state = RunState(EXITED, worst, f"exit status {worst}")
    lines = _tail(record).splitlines()[-200:]
    anomalies = monitor.classify(lines, "exited", worst)
    event = has_ended(record, root, state, anomalies, monitor.parse_progress(lines))
    sent = notify.announce(event, targets, root, by="run script")
    return f"{event.key}: {'sent' if sent else 'already sent'}"


def _record_of(slug: str, attempt: int, root: Path, wait_s: float) -> RunRecord | None:
    """This attempt's run record: deploy writes it just after the launch, so a program that ended at once may
    get here first — wait for it a while."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            record = RunRecord.load(Paths(slug, root).run)
        except RecordError:
            return None
        if record is not None and record.attempt == attempt:
            return record
        if (record is not None and record.attempt > attempt) or time.monotonic() >= deadline:
            return None
        time.sleep(0.2)


def exit_codes(record: RunRecord) -> list[int | None]:
    """Each task's exit status as its run script wrote it here (None: not yet): the run's one file under screen,
    one per array task of SLURM."""
    if record.backend == Backend.SLURM:
        from exprun.machines.launchers import slurm
        from exprun.machines.launchers.slurm_script import task_exit_file

        return [read_exit_code(Path(task_exit_file(record.exit_file, i))) for i in slurm.task_owners(record)]
    return [read_exit_code(Path(record.exit_file))]


def _tail(record: RunRecord) -> str:
    if record.backend == Backend.SLURM:
        from exprun.machines.launchers import slurm
        from exprun.machines.launchers.slurm_script import task_log

        owners = slurm.task_owners(record)
        return "\n".join(tail_text(Path(task_log(record, i)), task_share(len(owners))) for i in owners)
    return tail_text(Path(record.log), start=record.log_offset)
