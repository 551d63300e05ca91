"""What exprun's guard started, in its own words: one record per start, and what collect trusts.

The guard writes a record before it starts anything (integrity.write_record): the run id, the approved hash
it verified, the snapshot, the tasks (seeds, or arm:seed words) it hands run.sh, the host and the time. It
writes on the machine that runs the tasks, in the attempt's state folder there
(`experiments/state/<slug>/attempts/<n>/provenance/`); a remote run's records come home with its results.
A seed file counts only for a task such a record says this run started: a program, or a person, can write
any file into results/, but cannot make the guard have started a task. In `environment/` beside the records,
the environment the guard found there, one file per start under the record's name, its hash in the record
(see run/capsule.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from exprun.core.paths import Paths
from exprun.trust.integrity import ENVIRONMENT_FOLDER


def record_dir(slug: str, attempt: int) -> str:
    """Relative to the wiki root, the same on every machine."""
    return (Paths(slug, Path()).state_attempts / str(int(attempt)) / "provenance").as_posix()


def environment_dir(slug: str, attempt: int) -> str:
    """Where the guard leaves the environment of each start (beside record_dir), relative to the wiki root."""
    return (Paths(slug, Path()).state_attempts / str(int(attempt)) / ENVIRONMENT_FOLDER).as_posix()


@dataclass
class Started:
    """The tasks the guard started for one run (after checking its approved snapshot), and its records."""

    tasks: set[str] = field(default_factory=set)
    records: list[dict] = field(default_factory=list)

    def ran(self, task: str) -> bool:
        return task in self.tasks


def read(root: Path, slug: str, attempt: int, run_id: str, approved_hash: str) -> Started:
    """Every record of this run (its run id and approved hash) in the attempt's provenance folder."""
    started = Started()
    folder = Path(root) / record_dir(slug, attempt)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("run_id") == run_id and data.get("approved_hash") == approved_hash:
            started.records.append(data)
            started.tasks.update(str(t) for t in data.get("tasks") or [])
    return started
