"""Collect's writes as one transaction: everything is computed first, then written in an order that a later
collect can finish from wherever the last one stopped (disk full, a kill, a power cut).

1. `collect.pending.json` (state folder): the page's blocks and fields, the log line, the RUN_REPORT and the
   collected data — everything the remaining steps need, written atomically.
2. The page, in one atomic write: its Results and Analysis blocks, outcome, key_result, date_completed and
   status completed together.
3. The wiki log line — unless the log already ends with it.
4. RUN_REPORT.md, then collected.json (Snakemake's output: its presence means the collect is done), then the
   pending file goes.

A collect that finds a pending file of the run it is collecting finishes it from the first step not yet
visible on disk; nothing is written twice.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from exprun.core.errors import ExprunError
from exprun.core.files import atomic_write_json, atomic_write_text, read_json
from exprun.core.paths import Paths
from exprun.machines.launchers.base import RunRecord
from exprun.run.backends import launcher_class
from exprun.wiki import lifecycle, pages, wikilog

LOG_TAIL_BYTES = 1 << 16


def complete(paths: Paths, record: RunRecord, blocks: dict[str, str], outcome: str, key: str, data: dict) -> dict:
    """Write a computed collect (`data` holds the collected JSON and `report`, the RUN_REPORT text)."""
    now = datetime.now(timezone.utc)
    launcher = launcher_class(record.backend)(paths.root)
    fields = {
        "outcome": outcome,
        "key_result": key,
        **launcher.completed_fields(record, now.strftime("%Y-%m-%dT%H:%M")),
    }
    atomic_write_json(
        paths.collect_pending,
        {
            "run_id": record.run_id,
            "attempt": record.attempt,
            "blocks": blocks,
            "fields": fields,
            "today": now.strftime("%Y-%m-%d"),
            "log": f"exp-run | completed {paths.slug} | outcome: {outcome} | key: {key}",
            "report": data.get("report", ""),
            "collected": {k: v for k, v in data.items() if k != "report"},
        },
    )
    return finish(paths)


def resumable(slug: str, root: Path) -> bool:
    """A collect of the current run stopped after writing its pending file (disk full, killed): the next
    collect finishes it, even though the page may already say completed."""
    paths = Paths(slug, root)
    if not paths.collect_pending.exists() or paths.collected.exists():
        return False
    try:
        record, found = RunRecord.load(paths.run), read_json(paths.collect_pending)
    except (ExprunError, ValueError, OSError):
        return False
    return record is not None and isinstance(found, dict) and found.get("run_id") == record.run_id


def finish(paths: Paths) -> dict:
    """Carry out what collect.pending.json says, skipping the steps already on disk; the collected data."""
    todo = read_json(paths.collect_pending)
    page = pages.load_page(paths.page)
    if page.status != lifecycle.COMPLETED:
        lifecycle.transition(
            paths.page, lifecycle.COMPLETED, todo["fields"], today=todo["today"], blocks=todo["blocks"]
        )
    if not _logged(paths, todo["log"]):
        wikilog.append_log(paths.root / "wiki", todo["log"])
    atomic_write_text(paths.run_report, todo["report"])
    atomic_write_json(paths.collected, todo["collected"])
    paths.collect_pending.unlink(missing_ok=True)
    return {**todo["collected"], "report": todo["report"]}


def _logged(paths: Paths, line: str) -> bool:
    """The log's last entries already hold this collect's line (a collect that stopped after writing it)."""
    log = paths.root / "wiki" / "log.md"
    try:
        with open(log, "rb") as handle:
            handle.seek(max(log.stat().st_size - LOG_TAIL_BYTES, 0))
            tail = handle.read().decode("utf-8", "replace")
    except OSError:
        return False
    return any(entry.endswith(" " + " ".join(line.split())) for entry in tail.splitlines()[-50:])
