"""`run_log` is always one real file: runs whose tasks log separately (SLURM array tasks, Snakemake seed
jobs) get their logs combined there, task by task under a header naming each task's own file, refreshed
at every collect; the per-task logs stay where they are (the wiki's tools read run_log as one file).
"""

from __future__ import annotations

from pathlib import Path

from exprun.core.files import atomic_write_text
from exprun.logs.logtail import tail_text

MAX_TASK_BYTES = 2 * 2**20  # the end of each task's log; the full one stays in its own file


def combine(run_log: Path, task_logs: list[Path], root: Path) -> None:
    """Write run_log from the task logs readable here ("not here yet" for the others)."""
    names = [shown(log, root) for log in task_logs]
    parts = [
        f"# exprun: the {len(task_logs)} task logs of this run, combined (each task's own file is named "
        "above its part; the end of each, up to 2 MiB)\n"
    ]
    for log, name in zip(task_logs, names, strict=False):
        text = (
            tail_text(log, MAX_TASK_BYTES)
            if log.is_file()
            else "(not here yet: written, or fetched, when the task runs)\n"
        )
        parts.append(f"\n=== {name} ===\n{text}" + ("" if text.endswith("\n") else "\n"))
    run_log.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_log, "".join(parts))


def shown(log: Path, root: Path) -> str:
    try:
        return Path(log).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(log)
