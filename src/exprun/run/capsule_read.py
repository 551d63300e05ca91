"""An attempt's capsule as exprun wrote it, checked: capsule.json against the hash the run record kept at launch,
each environment file against the hash the guard's record kept before the program started.

Provenance is exprun's, never the program's: the program runs as the same user and could write any of these
files, so nothing here is taken on its word. A file whose hash is not the recorded one is named in `problems`
and its content is not used (reproduce and diff refuse, the page says so); an environment file no guard record
names is not looked at. What this cannot catch: a program that also rewrites exprun's own records (run.json
and its copy, the provenance records) consistently — files one user owns cannot prove more; run untrusted code
as another user. A remote or SLURM-over-SSH run cannot reach the submit host's capsule.json at all.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from exprun.core.errors import ExprunError
from exprun.core.paths import Paths
from exprun.machines.launchers.base import RunRecord, copy_path
from exprun.run import attempts, capsule
from exprun.trust import provenance


class CapsuleError(ExprunError):
    """No capsule to show: no such attempt, a run exprun did not launch, or one launched before capsules."""


@dataclass
class Environment:
    """What the guard recorded at one start (a SLURM array task, a relaunch): the probe's answer, or why not."""

    host: str
    tasks: list[str]
    started_at: str
    file: str = ""
    data: dict | None = None
    note: str = ""  # not captured (the probe failed): said, not a problem of trust


@dataclass
class Capsule:
    slug: str
    attempt: int
    record: RunRecord
    data: dict = field(default_factory=dict)  # capsule.json; {} when it is missing or not the one written
    environments: list[Environment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # files changed after exprun wrote them (not used)
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.slug}@{self.attempt}"

    @property
    def environment(self) -> dict | None:
        """The first start's environment (every start of a run on one machine sees the same)."""
        return next((e.data for e in self.environments if e.data), None)

    @property
    def distinct_environments(self) -> int:
        return len({json.dumps(_comparable(e.data), sort_keys=True) for e in self.environments if e.data})

    def require_trusted(self) -> None:
        if self.problems:
            raise CapsuleError(f"{self.name}: the capsule cannot be trusted: {'; '.join(self.problems)}")
        if not self.data:
            raise CapsuleError(f"{self.name}: no capsule ({'; '.join(self.notes) or 'none was written'})")


def _comparable(data: dict | None) -> dict:
    """An environment without what differs between two starts of the same one (time, task's working details)."""
    return {k: v for k, v in (data or {}).items() if k not in ("captured_at", "slurm")}


def parse_ref(text: str) -> tuple[str, int | None]:
    """`slug` or `slug@N`."""
    slug, _, number = text.partition("@")
    if number and not number.isdigit():
        raise CapsuleError(f"{text}: write an attempt as <slug>@<number>, e.g. {slug}@2")
    return slug, int(number) if number else None


def attempt_numbers(root: Path, slug: str) -> list[int]:
    folder = Paths(slug, root).state_attempts
    found = {int(p.parent.name) for p in folder.glob("*/run.record.json") if p.parent.name.isdigit()}
    return sorted(found | ({attempts.attempt_of(Paths(slug, root))} - {0}))


def _record(root: Path, slug: str, attempt: int | None) -> RunRecord:
    paths = Paths(slug, root)
    known = attempt_numbers(root, slug)
    current = RunRecord.load(paths.run) if paths.run.is_file() else None
    if attempt is None:
        if current is not None and (current.attempt or current.foreign):
            return current
        if not known:
            raise CapsuleError(f"{slug}: no run launched yet, so no capsule; deploy it first")
        attempt = known[-1]
    if current is not None and current.attempt == attempt:
        return current
    copy = RunRecord.load(copy_path(paths.run, attempt)) if attempt in known else None
    if copy is None:
        listed = ", ".join(map(str, known)) or "none"
        raise CapsuleError(f"{slug}: no attempt {attempt} (attempts: {listed}); use {slug}@<attempt>")
    return copy


def load(root: Path, slug: str, attempt: int | None = None) -> Capsule:
    """The attempt's capsule (the current one when not given), checked."""
    root = Path(root)
    record = _record(root, slug, attempt)
    if record.foreign:
        raise CapsuleError(f"{slug}: this run was not launched by exprun, so nothing recorded what ran")
    found = Capsule(slug, record.attempt, record)
    path = capsule.path_of(root, slug, record.attempt)
    if not path.is_file():
        why = record.details.get("capsule_error") or (
            "launched by an exprun without capsules" if not record.capsule else f"{path} is missing"
        )
        (found.problems if record.capsule else found.notes).append(why)
        return found
    raw = path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != record.capsule:
        found.problems.append(f"{path} changed after launch (its SHA-256 is not the one exprun recorded); not used")
    else:
        found.data = json.loads(raw)
    _environments(root, found)
    return found


def _environments(root: Path, found: Capsule) -> None:
    record, problems = found.record, len(found.problems)
    folder = root / provenance.environment_dir(found.slug, record.attempt)
    started = provenance.read(root, found.slug, record.attempt, record.run_id, record.approved_hash)
    for start in sorted(started.records, key=lambda r: str(r.get("started_at"))):
        said = start.get("environment")
        if not isinstance(said, dict):
            continue
        env = Environment(str(start.get("host")), list(start.get("tasks") or []), str(start.get("started_at")))
        if said.get("error"):
            env.note = f"not recorded on {env.host}: {said['error']}"
        else:
            env.file = str(said.get("file") or "")
            target = folder / Path(env.file).name
            try:
                raw = target.read_bytes()
            except OSError:
                found.problems.append(f"{target} (the environment recorded on {env.host}) is missing")
                continue
            if hashlib.sha256(raw).hexdigest() != said.get("sha256"):
                found.problems.append(
                    f"{target} changed after the program started (its SHA-256 is not the one the guard recorded); "
                    "not used"
                )
                continue
            env.data = json.loads(raw)
        found.environments.append(env)
    if not found.environments and len(found.problems) == problems:
        found.notes.append(
            "the run's environment is not here yet (it is recorded where the run starts and comes home with "
            "the results: collect brings it)"
        )
