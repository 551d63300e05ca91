"""Where each task of a run stands (a seed, or an arm:seed): one bar per task for `exprun watch`, `exprun status`
and the wait of `full_<slug>`, read from the same bounded tail the monitor reads. Pure functions.

What says where a task is, from the surest to the least sure:
- run.sh's closing lines (`seed 3 failed with exit status 2`) and the seed files that already count (collect's
  rules), both handed in by the caller;
- run.sh's markers in the run's log: `=== seed 3 ===` / `=== task arm:3 ===` (tasks one after the other, the
  task's output inline below it), `=== seed 3 started (slot …) ===` and `=== seed 3 ended (exit status C) ===`
  (tasks in parallel; the launcher adds each task's own log to the tail under `=== task 3 ===`);
- tasks one after the other run in order: every task before the one running has ended, even when its header
  has scrolled out of the tail. Without any header (a person's run.sh, a run exprun did not launch) the tail is
  the first task not yet counted.
The progress inside a task is monitor.parse_progress of its lines: there is one progress parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from exprun.logs.monitor import Progress, parse_progress

HEADER = re.compile(r"^=== (?:seed|task) (\S+) ===\s*$")
STARTED = re.compile(r"^=== (?:seed|task) (\S+) started\b")
ENDED = re.compile(r"^=== (?:seed|task) (\S+) ended \(exit status (-?\d+)\)")
MARKER = re.compile(r"^=== ")

PENDING, RUNNING, DONE, FAILED, ENDED_STATE, NOT_RUN = "pending", "running", "done", "failed", "ended", "not run"


@dataclass
class TaskBar:
    """One task's bar: its state (pending, running, done, failed; `ended` when the run ended without saying how the
    task did; `not run` when the run ended before it started) and the progress of its own lines."""

    task: str
    state: str
    progress: Progress = field(default_factory=Progress)
    exit_code: int | None = None

    @property
    def label(self) -> str:
        """`seed 3`, or `arm seed 3` for a task of an experiment with arms."""
        arm, _, seed = self.task.rpartition(":")
        return f"{arm} seed {seed}" if arm else f"seed {seed}"

    @property
    def finished(self) -> bool:
        return self.state in (DONE, FAILED, ENDED_STATE)

    @property
    def fraction(self) -> float | None:
        """0..1: a done task is full; a running one is its last step over its total (None without one)."""
        if self.state == DONE:
            return 1.0
        share = self.progress.fraction
        return None if share is None else min(max(share, 0.0), 1.0)

    def as_dict(self) -> dict:
        return {
            "task": self.task,
            "state": self.state,
            "step": self.progress.step,
            "total": self.progress.total,
            "fraction": self.fraction,
            "exit_code": self.exit_code,
        }


@dataclass
class _Marks:
    sections: dict[str, list[str]] = field(default_factory=dict)
    ended: dict[str, int] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)  # in the order the tail shows them
    headers: list[str] = field(default_factory=list)  # tasks with an inline header (one after the other)


def _read(lines: list[str]) -> _Marks:
    marks, current = _Marks(), None
    for line in lines:
        header, started, ended = HEADER.match(line), STARTED.match(line), ENDED.match(line)
        if header:
            current = header.group(1)
            marks.sections[current] = []  # a task that starts again (a rerun) starts a fresh section
            marks.headers.append(current)
        elif started:
            marks.started.append(started.group(1))
            current = None
        elif ended:
            marks.ended[ended.group(1)] = int(ended.group(2))
            current = None
        elif MARKER.match(line):
            current = None
        elif current is not None:
            marks.sections[current].append(line)
    return marks


def task_bars(
    tasks: list[str],
    lines: list[str],
    counted: frozenset[str] | set[str] = frozenset(),
    failed: dict[str, int] | None = None,
    alive: bool = True,
    in_order: bool = True,
) -> list[TaskBar]:
    """One bar per task, in the order given.

    Args:
        tasks: the run's task words as launched (`3`, `arm:3`).
        lines: the bounded tail (Inspection.tail): the run's log, and each task's own log under its header when
            tasks run in parallel.
        counted: tasks whose seed file counts already; failed: task → exit status (run.sh's closing lines).
        alive: whether the run is still going; in_order: whether the tasks run one after the other in one log
            (screen here or on a server, one task at a time), so an earlier task has ended once a later began.
    """
    failed = failed or {}
    marks = _read(lines)
    if not marks.headers and not marks.started and not marks.ended:
        current = next((t for t in tasks if t not in counted and t not in failed), None)
        if current is not None and lines:
            marks.sections[current] = list(lines)
            marks.headers.append(current)
    started = set(marks.started) | set(marks.ended)
    if not in_order and (marks.started or marks.ended):
        # tasks in parallel: a task's own log counts only once this attempt started it (older logs linger)
        marks.sections = {t: s for t, s in marks.sections.items() if t in started}
    started |= set(marks.sections)
    latest = marks.headers[-1] if in_order and marks.headers else None
    before = set(tasks[: tasks.index(latest)]) if latest in tasks else set()
    return [_bar(task, marks, started, before, counted, failed, alive) for task in tasks]


def _bar(
    task: str,
    marks: _Marks,
    started: set[str],
    before: set[str],
    counted: frozenset[str] | set[str],
    failed: dict[str, int],
    alive: bool,
) -> TaskBar:
    progress = parse_progress(marks.sections.get(task, []))
    code = failed.get(task, marks.ended.get(task))
    if code not in (None, 0):
        return TaskBar(task, FAILED, progress, code)
    if task in counted or code == 0:
        return TaskBar(task, DONE, progress, code)
    if task in before:
        return TaskBar(task, ENDED_STATE, progress)
    if task in started:
        return TaskBar(task, RUNNING if alive else ENDED_STATE, progress)
    return TaskBar(task, PENDING if alive else NOT_RUN, progress)


def share_done(bars: list[TaskBar]) -> tuple[int, float]:
    """(tasks finished, the running tasks' step fractions summed): what the ETA scales the elapsed time by."""
    finished = sum(1 for bar in bars if bar.finished)
    running = sum(bar.fraction or 0.0 for bar in bars if bar.state == RUNNING)
    return finished, running
