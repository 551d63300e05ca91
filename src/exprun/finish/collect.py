"""Phases 3–4: is the run alive (finish/inspection.py)? If so, report progress and touch nothing; if not, collect.

Collecting reads the seed files, decides the outcome, fills the page's
Results and Analysis, completes the page and appends to the wiki log.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from exprun.core.durations import human_hours
from exprun.core.numbers import finite
from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.finish import alerts, completion, findings, reproduce, watch
from exprun.finish.inspection import Inspection, estimated_hours, inspect, load_record, progress_data, run_config
from exprun.logs import runlog
from exprun.machines.launchers.base import RunRecord
from exprun.run import attempts, autofix, foreign
from exprun.run.backends import Run, open_run
from exprun.verdict import analysis_note, reports
from exprun.wiki import lifecycle, pages
from exprun.wiki.lifecycle import PageStatus


def _collected(paths: Paths, page: pages.Page, seen: Inspection, outcome: str, key: str, crash: dict | None) -> dict:
    """What every collect records of its run, whatever its arms (collected.json, the JSON report)."""
    record = seen.record
    return {
        "slug": paths.slug,
        "status": str(PageStatus.COMPLETED),
        "title": page.get("title") or paths.slug,
        "outcome": outcome,
        "key_result": key,
        "crash": crash,
        "page": str(paths.page),
        "env": record.backend.env_label,
        "run_id": record.run_id,
        "attempt": record.attempt,
        "launched_by_exprun": not record.foreign,
        "log_file": paths.log.relative_to(paths.root).as_posix(),
        "snapshot": record.snapshot,
        "approved_hash": record.approved_hash,
    }


def finish(
    slug: str, settings: Settings, root: Path, page: pages.Page, seen: Inspection, task_logs: list[str] | None = None
) -> dict:
    """Collect a finished run, single-arm or arms alike: what it found (findings), then the page, the plot,
    the RUN_REPORT and the wiki log, written as one transaction (completion)."""
    paths = Paths(slug, root)
    config = run_config(slug, root, seen.record)
    title = str(page.get("title") or slug)
    if config.single_arm:
        found = findings.single_arm(paths, seen, config, title)
    else:
        found = findings.arms(paths, seen, config, title, settings)
    analysis = found.analysis
    if seen.record.foreign:
        analysis += f"\n- This run was {foreign.NOTE}."
    note, note_failed = analysis_note.paragraph(settings, str(page.get("hypothesis") or ""), found.results, analysis)
    replay, capsule = reproduce.for_collect(root, seen.record)
    data = {
        **_collected(paths, page, seen, found.outcome, found.key, found.crash),
        **found.fields,
        "reasons": found.reasons,
        "counted": found.counted,
        "exit_code": seen.state.exit_code,
        "sanity_skipped": seen.record.sanity_skipped,
        "analysis_llm": note_failed or ("added" if note else ""),
        "task_logs": task_logs or [],
        "evidence": found.evidence,
        "strays": found.strays,
        "capsule": capsule,
    }
    data["report"] = reports.run_report(data, found.results, analysis + note)
    return completion.complete(
        paths,
        seen.record,
        {"Results": found.results + (f"\n\n{replay}" if replay else ""), "Analysis": analysis + note},
        found.outcome,
        found.key,
        data,
    )


def check_once(slug: str, settings: Settings, root: Path, page: pages.Page, now: datetime | None = None) -> dict:
    """Inspect; apply the one automatic fix if due; report progress while alive, else collect."""
    with open_run(load_record(slug, root), root) as run:
        seen = inspect(run, settings)
        alerts.after_look(seen, settings, root, "collect")
        if autofix.apply(slug, settings, root, seen, run):
            seen = inspect(run, settings)
            alerts.after_look(seen, settings, root, "collect")
        if seen.state.alive:
            refresh_run_log(run, root)
            data = progress_data(slug, page, seen, root, now or datetime.now(timezone.utc))
            data["report"] = reports.progress_report(data)
            return data
        run.fetch()
        task_logs = refresh_run_log(run, root)
    data = finish(slug, settings, root, page, seen, task_logs)
    alerts.after_collect(seen.record, data, settings, root)
    return data


def _resumed(slug: str, settings: Settings, root: Path) -> dict:
    """A collect that stopped half-way, finished; `collected` told if it had not been yet."""
    data = completion.finish(Paths(slug, root))
    alerts.after_collect(RunRecord.load(Paths(slug, root).run), data, settings, root)
    return data


def refresh_run_log(run: Run, root: Path) -> list[str]:
    """run_log as one file for runs whose tasks log separately; the task logs' names (relative) for reports."""
    logs = run.task_logs()
    if logs:
        runlog.combine(Paths(run.record.slug, root).log, logs, root)
    return [runlog.shown(log, root) for log in logs]


def collect(slug: str, settings: Settings, root: Path = Path("."), now: datetime | None = None) -> dict:
    """One check: progress data while alive (wiki untouched apart from an autofix log line), run data once ended.
    One collect of a slug at a time: a second is told at once, and the page is read again under the lock."""
    with attempts.collect_lock(slug, root):
        page = lifecycle.find_experiment(slug, root)
        if completion.resumable(slug, root):  # a collect that stopped half-way: finish it, write nothing twice
            return _resumed(slug, settings, root)
        lifecycle.require_collectable(page)
        return check_once(slug, settings, root, page, now)


def wait_and_collect(slug: str, settings: Settings, root: Path = Path("."), say=print) -> dict:
    """Full mode: poll until the session ends (never killing it), then collect; meanwhile say what `exprun watch`
    says without a terminal (its output goes through `tee` into the rule's log, so a live view has no place)."""
    page = lifecycle.find_experiment(slug, root)
    lifecycle.require_collectable(page)
    figure = estimated_hours(page, RunRecord.load(Paths(slug, root).run))
    estimate_h = float(figure) if finite(figure) else 0.0
    started = time.monotonic()
    warned = False
    lines = watch.PlainLines(every_s=settings.collect.poll_s)  # `exprun watch`'s plain lines: one when it changed
    while True:
        try:
            with attempts.collect_lock(slug, root):  # between checks, another collect may take its turn
                page = lifecycle.find_experiment(slug, root)
                if completion.resumable(slug, root):
                    return _resumed(slug, settings, root)
                lifecycle.require_collectable(page)
                data = check_once(slug, settings, root, page)
        except attempts.Busy:
            time.sleep(settings.collect.poll_s)
            continue
        if data["status"] == PageStatus.COMPLETED:
            return data
        waited_h = (time.monotonic() - started) / 3600
        for line in lines.lines(watch.view_of(data, alive=True)):
            say(line)
        if estimate_h and waited_h > 2 * estimate_h and not warned:
            say(
                f"warning: {slug} has run over 2× its estimate ({human_hours(estimate_h)}); "
                "still waiting, not stopping it"
            )
            warned = True
        time.sleep(settings.collect.poll_s)
