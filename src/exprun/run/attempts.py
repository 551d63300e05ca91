"""Attempts: every deploy starts a new one, with its own run id; what earlier attempts left is moved aside.

An experiment that was abandoned and planned again must neither look deployed
(an old `deployed.stamp` would make Snakemake say "Nothing to be done") nor be
judged on an earlier attempt's seed files. Nothing is deleted: the files move
to `results/<slug>/attempts/<n>/` and `experiments/state/<slug>/attempts/<n>/`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from exprun.core.errors import LaunchError
from exprun.core.files import read_json
from exprun.core.invocation import snakemake_command
from exprun.core.paths import Paths

# Snakemake's markers of a deployment: stale as soon as the page is planned again.
MARKERS = ("deployed", "jobs_started", "collected", "collected_jobs")
# Everything a finished attempt leaves in the state folder (the markers, the record, its outcome files).
ATTEMPT_STATE = MARKERS + ("run", "exit_status", "autofix", "run_report")


def attempt_of(paths: Paths) -> int:
    """The attempt number of the run record in the state folder (0 when none)."""
    try:
        return int(read_json(paths.run).get("attempt") or 0)
    except (ValueError, OSError, TypeError):
        return 0


def _numbers(folder: Path) -> list[int]:
    return [int(p.name) for p in folder.glob("*") if p.name.isdigit()] if folder.is_dir() else []


def _move_into(files: list[Path], folder: Path) -> list[str]:
    """Move files into folder; never overwrites (a name already there gets a numbered suffix)."""
    moved = []
    for path in files:
        folder.mkdir(parents=True, exist_ok=True)
        dest, n = folder / path.name, 1
        while dest.exists() or dest.is_symlink():
            dest, n = folder / f"{path.name}.{n}", n + 1
        os.replace(path, dest)
        moved.append(path.name)
    return moved


def _previous_number(paths: Paths, anything: bool) -> int:
    """The attempt the leftovers belong to: the record's, else the next free number (files from before attempts)."""
    existing = _numbers(paths.results_attempts) + _numbers(paths.state_attempts)
    return attempt_of(paths) or ((max(existing, default=0) + 1) if anything else 0)


def retire_markers(slug: str, root: Path = Path(".")) -> list[str]:
    """A planned page has no deployment: move any marker of an earlier one aside, so deploy runs again."""
    paths = Paths(slug, root)
    present = [getattr(paths, name) for name in MARKERS if getattr(paths, name).exists()]
    if not present:
        return []
    return _move_into(present, paths.state_attempts / str(_previous_number(paths, True)))


def retire_attempt(slug: str, root: Path = Path(".")) -> int:
    """Move what earlier attempts left (state files, seed results) aside; returns the new attempt number."""
    paths = Paths(slug, root)
    state_files = [getattr(paths, name) for name in ATTEMPT_STATE if getattr(paths, name).exists()]
    state_files += [p for p in [Path(f"{paths.exit_status}.pid")] if p.exists()]
    leftovers = [p for p in paths.results_dir.iterdir() if p.name != "attempts"] if paths.results_dir.is_dir() else []
    previous = _previous_number(paths, bool(state_files or leftovers))
    _move_into(state_files, paths.state_attempts / str(previous))
    _move_into(leftovers, paths.results_attempts / str(previous))
    return max([previous, *_numbers(paths.results_attempts), *_numbers(paths.state_attempts)]) + 1


def new_run_id(slug: str, attempt: int) -> str:
    """Unique per attempt, readable in a seed file: `<slug>-a<attempt>-<random>`."""
    return f"{slug}-a{attempt}-{secrets.token_hex(4)}"


class Busy(LaunchError):
    """Another process holds this slug's deploy or collect lock."""


@contextlib.contextmanager
def _slug_lock(slug: str, root: Path, what: str, busy: str) -> Iterator[None]:
    """A non-blocking lock on experiments/state/<slug>/<what>.lock, across snakemake and exprun processes."""
    lock_path = Paths(slug, root).state_dir / f"{what}.lock"
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a")
    except OSError as exc:
        raise LaunchError(
            f"{lock_path}: cannot create the {what} lock ({exc.strerror}); make {lock_path.parent} a writable folder"
        ) from None
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(busy) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def deploy_lock(slug: str, root: Path = Path(".")) -> contextlib.AbstractContextManager[None]:
    """One deploy of a slug at a time; the second is told at once."""
    return _slug_lock(
        slug,
        root,
        "deploy",
        f"{slug} is already being deployed by another process; "
        f"wait for it, then `{snakemake_command(f'collect_{slug}')}`",
    )


def collect_lock(slug: str, root: Path = Path(".")) -> contextlib.AbstractContextManager[None]:
    """One collect of a slug at a time (its check, its one automatic fix, its page writes); the second is told."""
    return _slug_lock(
        slug,
        root,
        "collect",
        f"{slug} is already being collected by another process; wait for it, then read wiki/experiments/{slug}.md",
    )
