"""sync-code: upload an experiment's code (or the approved snapshot a run executes) plus what server.yaml's
sync.include selects, incrementally and atomically, then prove the code arrived.

Only uploads: nothing on the server is ever deleted, and results/, logs/ and
checkpoints/ are never written, so results not pulled yet survive any sync.
The proof is the remote copy's hash computed by integrity.folder_hash itself
(see remote_code_hash), compared with the hash a person approved.

sync.include and sync.exclude select files over the whole wiki root the way the wiki's remote.py has rsync
select them (remote/rsync_rules.py): `*.py` sends every Python file at any depth, so code shared by several
experiments (a `src/` or `lib/` folder next to experiments/) reaches the server with the experiment's own.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from exprun.core.errors import RemoteError
from exprun.core.invocation import snakemake_command
from exprun.core.paths import Paths
from exprun.remote import transfer
from exprun.remote.rsync_rules import Filter
from exprun.remote.server_config import ServerConfig
from exprun.remote.session import RemoteSession
from exprun.trust import integrity

PROTECTED = ("results", "logs", "checkpoints")
# exprun's and Snakemake's own bookkeeping: never code, never entered by sync.include (a snapshot goes only as
# the approved snapshot a launch sends)
NOT_CODE = (".snakemake", "snapshots", "experiments/state")
# The code folder is small text; a bigger one means data crept in, which the hash check should not fetch.
HASH_FETCH_LIMIT = 64 * 2**20
Progress = Callable[[str, int, int], object]


@dataclass
class SyncPlan:
    """Local files to upload, as (local path, path relative to the wiki root)."""

    files: list[tuple[Path, str]] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def plan(root: Path, slugs: list[str], server: ServerConfig) -> SyncPlan:
    """The experiments' code files (what manifest hashes and a person approves) plus sync.include,
    minus sync.exclude."""
    root = Path(root)
    folders = []
    for slug in slugs:
        code_dir = Paths(slug, root).code_dir
        if not code_dir.is_dir():
            raise RemoteError(
                f"{code_dir}: no code to sync for {slug}; run `{snakemake_command(f'prepare_{slug}')}` first"
            )
        folders.append(code_dir)
    return _plan(root, folders, server)


def plan_snapshot(root: Path, snapshot: str, server: ServerConfig) -> SyncPlan:
    """An approved snapshot (snapshots/<hash16>/<slug>/, to the same path under work_dir) plus sync.include."""
    return _plan(Path(root), [Path(root) / snapshot], server)


def _plan(root: Path, folders: list[Path], server: ServerConfig) -> SyncPlan:
    """The approved code goes whole (the server's copy must hash as approved); sync.include adds what it selects,
    minus sync.exclude. Files under results/, logs/, checkpoints/ are listed as protected, never sent."""
    result = SyncPlan()
    chosen: dict[str, Path] = {}
    for folder in folders:
        for _, name in integrity.code_files(folder):
            path = Path(name)
            chosen[path.relative_to(root).as_posix()] = path
    rules = Filter.of(server.sync_include, server.sync_exclude)
    walked = selected(root, rules) if server.sync_include else Selection()
    result.links = [rel for rel, _ in walked.links]
    for rel, path in walked.files:
        chosen.setdefault(rel, path)
    for rel, path in sorted(chosen.items()):
        if rel.split("/", 1)[0] in PROTECTED:
            result.protected.append(rel)
        else:
            result.files.append((path, rel))
    result.excluded = [rel for rel in walked.held_back if rel not in chosen]
    result.notes = [
        f"sync.include {pattern!r} matches folders only (rsync's rule), so it sends no file; write "
        f"{pattern.rstrip('/') + '/***'!r} for everything in it"
        for pattern in rules.folder_only()
    ]
    return result


@dataclass
class Selection:
    """What the filter selects under the root: files to send, linked files (not sent), and files an include
    names but an exclude holds back (the answer's `excluded`: why a file is not on the server)."""

    files: list[tuple[str, Path]] = field(default_factory=list)
    links: list[tuple[str, Path]] = field(default_factory=list)
    held_back: list[str] = field(default_factory=list)


def selected(root: Path, rules: Filter) -> Selection:
    """Every file the wiki tool's rsync filter sends from `root`, in path order. Excluded folders, exprun's
    bookkeeping (NOT_CODE) and linked folders are not entered; a linked file is set aside (rsync would send the
    link itself, and its target may lie outside the wiki root)."""
    found = Selection()
    todo = [("", Path(root))]
    while todo:
        rel_dir, folder = todo.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            rel = f"{rel_dir}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                if rel not in NOT_CODE and rules.enters(rel):
                    todo.append((rel + "/", Path(entry.path)))
            elif not any(r.matches(rel, False) for r in rules.includes):
                continue
            elif rules.excluded(rel):
                found.held_back.append(rel)
            elif entry.is_symlink():
                found.links.append((rel, Path(entry.path)))
            elif entry.is_file():
                found.files.append((rel, Path(entry.path)))
    found.files.sort()
    found.links.sort()
    found.held_back.sort()
    return found


def upload(
    session: RemoteSession, sync_plan: SyncPlan, on_progress: Progress | None = None, dry_run: bool = False
) -> dict:
    """Upload what differs in size or mtime; each file lands under its name only when complete (with dry_run:
    only say which files would go)."""
    sftp = session.sftp()
    made: set[PurePosixPath] = set()
    uploaded, unchanged = [], []
    listings: dict[PurePosixPath, dict] = {}
    for local, rel in sync_plan.files:
        remote = session.work_dir / rel
        info = local.stat()
        there = _remote_attrs(sftp, remote, listings)
        if there is not None and there.st_size == info.st_size and there.st_mtime == int(info.st_mtime):
            unchanged.append(rel)
            continue
        if dry_run:
            uploaded.append(rel)
            continue
        transfer.makedirs(sftp, remote.parent, made)
        callback = (lambda done, total, rel=rel: on_progress(rel, done, total)) if on_progress else None
        transfer.upload(sftp, local, remote, callback)
        uploaded.append(rel)
    return {
        "uploaded": uploaded,
        "unchanged": len(unchanged),
        "protected_skipped": sync_plan.protected,
        "excluded": sync_plan.excluded,
        "links_skipped": sync_plan.links,
        "notes": sync_plan.notes,
    }


def _remote_attrs(sftp, remote: PurePosixPath, listings: dict[PurePosixPath, dict]):
    """A remote file's attributes from one listing per folder: a re-sync of 1,000 unchanged
    files costs a round trip per folder, not per file."""
    folder = remote.parent
    if folder not in listings:
        try:
            listings[folder] = {entry.filename: entry for entry in sftp.listdir_attr(str(folder))}
        except OSError:
            listings[folder] = {}
    return listings[folder].get(remote.name)


def remote_code_hash(session: RemoteSession, slug: str) -> str:
    """integrity.folder_hash of the server's copy of experiments/code/<slug>/."""
    return remote_folder_hash(session, Paths(slug, Path()).code_dir.as_posix(), f"sync-code --slug {slug}")[0]


def remote_folder_hash(session: RemoteSession, rel: str, how: str) -> tuple[str, list[str]]:
    """(integrity.folder_hash, files no approval covers) of a folder under the server's work_dir.

    The folder is streamed back over the session's SFTP channel into a temp
    folder and hashed there by the very function that hashed the approval, so
    the two cannot drift apart (same path order, same exclusions, no python
    needed on the server). The price is one read of a folder of a few KB.
    """
    remote_dir = session.work_dir / rel
    sftp = session.sftp()
    if transfer.stat_or_none(sftp, remote_dir) is None:
        raise RemoteError(f"{remote_dir} does not exist on {session.label}; run `{how}` first")
    with tempfile.TemporaryDirectory(prefix="exprun-remote-code-") as tmp:
        fetched = 0
        for name, attrs in transfer.walk_files(sftp, remote_dir):
            fetched += attrs.st_size or 0
            if fetched > HASH_FETCH_LIMIT:
                raise RemoteError(
                    f"{remote_dir} on {session.label} holds over {HASH_FETCH_LIMIT // 2**20} MiB; "
                    "keep data and checkpoints out of the code folder"
                )
            copy = Path(tmp) / name
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(transfer.read_bytes(sftp, remote_dir / name) or b"")
        return integrity.folder_hash(Path(tmp)), integrity.beyond_approved(Path(tmp))


def verify(session: RemoteSession, slug: str, expected: str) -> str:
    """The remote hash when it equals the approved one; else RemoteError (nothing may launch)."""
    found = remote_code_hash(session, slug)
    if found != expected:
        raise RemoteError(
            f"remote code differs from the approved code: experiments/code/{slug}/ on {session.label} "
            f"hashes to {found[:12]}, approved {expected[:12]}; run `sync-code --slug {slug}` again "
            "(and check nobody edits the code on the server)"
        )
    return found


def send_snapshot(session: RemoteSession, root: Path, snapshot: str, approved_hash: str, server: ServerConfig) -> None:
    """Upload the approved snapshot (what differs) and prove the server's copy is exactly it: the approved hash
    and nothing beyond the approved files (a planted cache there is refused, never run)."""
    upload(session, plan_snapshot(root, snapshot, server))
    found, extra = remote_folder_hash(session, snapshot, "snakemake deploy_<slug>")
    where = f"{session.work_dir / snapshot} on {session.label}"
    if extra:
        raise RemoteError(
            f"{where} holds files no approval covers ({', '.join(extra[:5])}); nothing was started — "
            f"remove them there (rm -r {shlex.quote(str(session.work_dir / snapshot))}) and deploy again"
        )
    if found != approved_hash:
        raise RemoteError(
            f"{where} hashes to {found[:12]}, not the approved {approved_hash[:12]}: it was edited on the "
            f"server; nothing was started — remove it there (rm -r "
            f"{shlex.quote(str(session.work_dir / snapshot))}) and deploy again"
        )
