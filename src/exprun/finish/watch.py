"""`exprun watch`: how each watched run stands now (a RunView: one bar per task, ETA, latest metric, anomalies) and
the plain lines that say it where no terminal shows the live view (a pipe, a log, the wait of `full_<slug>`).

Read-only like `exprun status`, and built from the same pieces: the run's launcher answers (one LauncherPool per
look, its connections kept between looks), finish/inspection reads the tail once (progress, anomalies, each
task's bar), and collect stays collect's — watching never applies the automatic fix and never writes the page.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from exprun.core.durations import human_duration, human_hours
from exprun.core.errors import ExprunError, RemoteError
from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.finish import alerts, inspection
from exprun.logs import task_progress
from exprun.run.backends import LauncherPool
from exprun.wiki import lifecycle, pages
from exprun.wiki.lifecycle import COMPLETED, RUNNING

UNWATCHABLE = "cannot be watched"
MANY_TASKS = 6  # a plain line names each task up to this many; beyond, it counts them and names the running ones


@dataclass
class RunView:
    """One watched run as the live view and the plain lines show it."""

    slug: str
    alive: bool = True
    where: str = ""  # `local (exp-slug)`, `remote (gpu-box)`, `slurm (job 12)`
    elapsed: str = ""
    eta: str = ""  # `~2 min`, `?` when nothing tells yet
    metric: str = ""  # `accuracy=0.9100`
    tasks: list[dict] = field(default_factory=list)  # inspection.progress_data's bars
    anomalies: list[str] = field(default_factory=list)  # `nan_loss: loss=nan at step 3 — lower the learning rate…`
    ended: str = ""  # why it is over: `exit status 0`, `already collected: succeeded`
    problem: str = ""  # it could not be looked at this time (a dropped connection), in one line
    collected: bool = False  # the page is completed already (someone collected it)


def watched_slugs(root: Path, slugs: list[str]) -> list[str]:
    """The slugs named (each must be a running experiment; a typo lists the candidates), else every running page
    whose run exprun deployed."""
    if slugs:
        for slug in slugs:
            lifecycle.require_collectable(lifecycle.find_experiment(slug, root))
        return list(dict.fromkeys(slugs))
    found = []
    for path in pages.experiment_pages(root):
        if pages.quick_status(path) not in (RUNNING, None):
            continue
        paths = Paths(path.stem, root)
        if any(p.exists() for p in (paths.run, paths.deployed, paths.jobs_started)):
            found.append(path.stem)
    return found


class Looker:
    """Looks at the watched runs again and again over the same connections (one per host), a fresh scan each time:
    a launcher's answers are a snapshot of the moment it was asked."""

    def __init__(self, settings: Settings, root: Path):
        self.settings, self.root = settings, Path(root)
        self.pool = LauncherPool(self.root)

    def look(self, slugs: list[str], now: datetime | None = None) -> list[RunView]:
        now = now or datetime.now(timezone.utc)
        self.pool.rescan()
        self._announce(slugs)
        views = [self._look(slug, now) for slug in slugs]
        if any(view.problem for view in views):  # a dropped connection: the next look connects again
            self.close()
            self.pool = LauncherPool(self.root)
        return views

    def _announce(self, slugs: list[str]) -> None:
        """Tell each launcher every run it will be asked about, as status does: one round trip per server (one
        accounting query per cluster) answers them all."""
        for slug in slugs:
            try:
                record = inspection.load_record(slug, self.root)
                self.pool.get(record).expect(record)
            except ExprunError:
                continue  # said by _look, for this run only

    def _look(self, slug: str, now: datetime) -> RunView:
        try:
            page = lifecycle.find_experiment(slug, self.root)
            if page.status != RUNNING:
                done = page.status == COMPLETED
                outcome = f": {page.get('outcome')}" if done and page.get("outcome") else ""
                return RunView(slug, alive=False, ended=f"already {page.status}{outcome}", collected=done)
            run = self.pool.run(inspection.load_record(slug, self.root))
            seen = inspection.inspect(run, self.settings, now.timestamp())
            alerts.after_look(seen, self.settings, self.root, "watch")  # a watcher hears what status would raise
            data = inspection.progress_data(slug, page, seen, self.root, now)
        except RemoteError as exc:
            return RunView(slug, problem=str(exc))
        except ExprunError as exc:
            return RunView(slug, alive=False, ended=f"{UNWATCHABLE}: {exc}")
        ended = f"ended ({seen.state.detail})" if seen.state.detail else "ended"
        return view_of(data, seen.state.alive, ended, run.label(seen.state))

    def close(self) -> None:
        self.pool.close()


def view_of(data: dict, alive: bool, ended: str = "", where: str = "") -> RunView:
    """A RunView from inspection.progress_data's dict (what `exprun collect --json` says of a running run)."""
    metric = data.get("latest_metric")
    remaining = data.get("remaining_hours")
    return RunView(
        slug=data["slug"],
        alive=alive,
        where=where,
        elapsed=human_duration(float(data.get("elapsed_hours") or 0) * 3600),
        eta=f"~{human_hours(remaining)}" if remaining is not None else "?",
        metric=metric_text(metric),
        tasks=list(data.get("tasks") or []),
        anomalies=[_anomaly_text(a) for a in data.get("anomalies") or []]
        + ([f"automatic fix: {data['autofix']}"] if data.get("autofix") else []),
        ended="" if alive else (ended or "ended"),
    )


def metric_text(metric: dict | None) -> str:
    return f"{metric['name']}={metric['value']:.4f}" if metric else ""


def _anomaly_text(anomaly: dict) -> str:
    suggestion = f" — {anomaly['suggestion']}" if anomaly.get("suggestion") else ""
    return f"{anomaly['kind']}: {anomaly['detail']}{suggestion}"


def task_label(task: dict) -> str:
    return task_progress.TaskBar(task["task"], task["state"]).label


def task_text(task: dict) -> str:
    """`step 40/100`, or the state when no step says more (`pending`, `done`, `failed (exit 2)`)."""
    step, total, state = task.get("step"), task.get("total"), task["state"]
    if state == task_progress.FAILED:
        return f"failed (exit {task['exit_code']})" if task.get("exit_code") is not None else "failed"
    if state in (task_progress.PENDING, task_progress.NOT_RUN, task_progress.DONE) or step is None:
        return state
    shown = f"step {step}/{total}" if total else f"step {step}"
    return shown if state == task_progress.RUNNING else f"{state} at {shown}"


def tasks_summary(tasks: list[dict]) -> str:
    """Every task in a few words: each named when few, else counted by state with the running ones named."""
    if len(tasks) <= MANY_TASKS:
        return ", ".join(f"{task_label(t)} {task_text(t)}" for t in tasks)
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task["state"]] = counts.get(task["state"], 0) + 1
    running = [f"{task_label(t)} {task_text(t)}" for t in tasks if t["state"] == task_progress.RUNNING]
    order = (task_progress.DONE, task_progress.FAILED, task_progress.ENDED_STATE, task_progress.RUNNING)
    words = [f"{counts[s]} {s}" for s in (*order, task_progress.PENDING, task_progress.NOT_RUN) if counts.get(s)]
    return f"{len(tasks)} tasks: {', '.join(words)}" + (f" ({'; '.join(running)})" if running else "")


def headline(view: RunView) -> str:
    """The run in one line, without the time of day: what the plain lines and the live view's title say."""
    if view.problem:
        return f"{view.slug}: not reachable this time ({view.problem}); trying again"
    if not view.alive:
        return f"{view.slug}: {view.ended}"
    parts = [f"running {view.elapsed}", f"ETA {view.eta}"]
    if view.metric:
        parts.append(view.metric)
    return f"{view.slug}: " + " · ".join(parts)


def plain_line(view: RunView) -> str:
    """The run in one line for a log: headline, then each task (or the tasks counted)."""
    tasks = tasks_summary(view.tasks) if view.tasks and not view.problem else ""
    return headline(view) + (f" · {tasks}" if tasks else "")


class PlainLines:
    """Which plain lines to print now: a run's line when what it says changed (a task started or ended, a step,
    the metric) — steps alone at most every `every_s` seconds — each anomaly once, when it appears, and the end;
    and the line again after `quiet_s` seconds of silence, so a log shows the watch is still there."""

    def __init__(self, every_s: float = 10.0, quiet_s: float = 300.0, clock=time.monotonic):
        self.every_s, self.quiet_s, self.clock = every_s, quiet_s, clock
        self._said: dict[str, tuple] = {}
        self._when: dict[str, float] = {}
        self._anomalies: dict[str, set[str]] = {}

    def lines(self, view: RunView) -> list[str]:
        out = []
        seen = self._anomalies.setdefault(view.slug, set())
        for anomaly in view.anomalies:
            if anomaly not in seen:
                seen.add(anomaly)
                out.append(f"{view.slug}: ! {anomaly}")
        states = tuple((t["task"], t["state"]) for t in view.tasks)
        steps = tuple(t.get("step") for t in view.tasks) + (view.metric,)
        key = (view.alive, view.ended, bool(view.problem), states)
        before = self._said.get(view.slug)
        now = self.clock()
        news = before is None or before[0] != key
        since = now - self._when.get(view.slug, 0.0)
        moved = before is not None and before[1] != steps and since >= self.every_s
        if news or moved or since >= self.quiet_s:
            self._said[view.slug], self._when[view.slug] = (key, steps), now
            out.insert(0, plain_line(view))
        return [f"[{datetime.now():%H:%M:%S}] {line}" for line in out]
