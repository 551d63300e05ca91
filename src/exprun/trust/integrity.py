"""What a person approves, as one hash, and the guard that checks it where the code starts.

Standard library only, on purpose: the same source hashes the folder here (the
approval, the gate), and runs as `python3 -c <this file> verify ...` in front of
run.sh wherever the run starts (screen here or on a server, a SLURM task, a
Snakemake seed job), so the check happens at the moment the code starts, on the
machine that runs it, without exprun installed there.

Links inside the code folder count as what they point to: a linked file is
hashed as its target's bytes, a linked folder is walked, a dangling link is
hashed as its target text, and a loop is refused. So no edit outside the folder,
reached through a link, can run unapproved.

A run starts from a snapshot (exprun.trust.snapshot): a copy of exactly the hashed files. The guard checks a
snapshot strictly — anything beyond those files (a `__pycache__`, a hidden file, one of exprun's notes)
is refused — and starts the command with bytecode caches neither written nor read from elsewhere
(PYTHONDONTWRITEBYTECODE=1, no PYTHONPYCACHEPREFIX), so Python compiles the approved source every time.
It runs isolated (`python3 -I`): neither the working folder nor PYTHONPATH nor user site-packages can
replace a module it imports. Before starting anything it leaves a provenance record (the run id, the
approved hash, the tasks, the host, the time) in the folder exprun names: collect trusts that record,
never what the program writes about itself.

With `--environment <argv as JSON>` it first runs that command (exprun's environment probe, started with the
interpreter the run uses) and writes the one JSON object it prints into the `environment/` folder beside the
record folder, under the record's name, its SHA-256 in the record: both exist before the program starts, so a
program that rewrites the file later is caught by the hash (run/capsule_read.py reads them back). A probe that fails or
hangs is recorded as such and the run goes on: the environment is evidence, not a gate.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import time

# Not part of what runs, so not part of what is approved.
NOT_HASHED = frozenset({".exprun-manifest.json", "REVIEW.md", "CONTEXT.md", "context.json"})
GUARD_EXIT = 96  # run.sh never started: the code is not the approved code
ENVIRONMENT_TIMEOUT_S = 180  # the environment probe's bound (pip freeze, nvidia-smi each bound themselves too)
ENVIRONMENT_FOLDER = "environment"  # beside the record folder (attempts/<n>/provenance -> attempts/<n>/environment)


class LinkLoop(ValueError):
    """A link inside the code folder leads back into a folder already being walked."""


def _walk(top: str, rel: tuple[str, ...], seen: frozenset[str], out: list, strict: bool) -> None:
    real = os.path.realpath(top)
    if real in seen:
        raise LinkLoop(f"{top}: a link leads back into {real}; remove the link (the code folder must be finite)")
    seen = seen | {real}
    for entry in sorted(os.scandir(top), key=lambda e: e.name):
        if entry.name == "__pycache__" and not strict:
            continue
        path = os.path.join(top, entry.name)
        if entry.is_dir(follow_symlinks=True):
            _walk(path, rel + (entry.name,), seen, out, strict)
        elif strict or (entry.name not in NOT_HASHED and not entry.name.startswith(".")):
            if entry.is_file(follow_symlinks=True) or entry.is_symlink() or strict:
                out.append((rel + (entry.name,), path))


def code_files(folder: str | os.PathLike[str], strict: bool = False) -> list[tuple[str, str]]:
    """(relative posix path, path) of every file that makes up the experiment, in a fixed order; `strict`:
    every file there is (caches, hidden files and exprun's notes too), as a snapshot must hold nothing else."""
    found: list = []
    if os.path.isdir(folder):
        _walk(os.fspath(folder), (), frozenset(), found, strict)
    found.sort(key=lambda item: item[0])
    return [("/".join(parts), path) for parts, path in found]


def beyond_approved(folder: str | os.PathLike[str]) -> list[str]:
    """Files in a snapshot that no approval covers (a planted cache, a hidden file): there must be none."""
    covered = {rel for rel, _ in code_files(folder)}
    return [rel for rel, _ in code_files(folder, strict=True) if rel not in covered]


def file_hash(path: str | os.PathLike[str]) -> str:
    """SHA-256 of the bytes a program reading this path gets; a dangling link by its target text."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        return link_hash(os.readlink(path))
    return digest.hexdigest()


def link_hash(target: str) -> str:
    """What a dangling link counts as: its target text (nothing can be read through it)."""
    return hashlib.sha256(b"dangling link -> " + target.encode()).hexdigest()


def file_hashes(folder: str | os.PathLike[str]) -> dict[str, str]:
    return {rel: file_hash(path) for rel, path in code_files(folder)}


def combine(hashes) -> str:
    """One SHA-256 over (relative path, content hash) pairs in code_files' order: the folder's hash."""
    digest = hashlib.sha256()
    for rel, content in hashes:
        digest.update(rel.encode() + b"\0")
        digest.update(content.encode() + b"\n")
    return digest.hexdigest()


def folder_hash(folder: str | os.PathLike[str]) -> str:
    """One SHA-256 over every code file's relative path and content hash."""
    return combine((rel, file_hash(path)) for rel, path in code_files(folder))


def links(folder: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """(relative path, where it points) of every link inside the folder, for the person approving."""
    found = []
    for current, dirs, files in os.walk(folder, followlinks=False):
        for name in sorted(dirs + files):
            path = os.path.join(current, name)
            if os.path.islink(path):
                found.append((os.path.relpath(path, folder).replace(os.sep, "/"), os.path.realpath(path)))
    return sorted(found)


USAGE = (
    "usage: verify [--snapshot] [--environment ARGV-JSON] [--record-dir DIR] <code-dir> <approved-sha256> "
    "<command> [args...]"
)


def _refuse(message: str) -> int:
    print(f"[exprun guard] {message}; nothing was started", file=sys.stderr)
    return GUARD_EXIT


def _options(argv: list[str]) -> tuple[bool, str, list[str], list[str]] | None:
    """(snapshot?, record folder, environment probe argv, the rest) of the guard's arguments; None when they do
    not parse."""
    snapshot, record_dir, environment, rest = False, "", [], argv[1:]
    while rest and rest[0].startswith("--"):
        if rest[0] == "--snapshot":
            snapshot, rest = True, rest[1:]
        elif rest[0] == "--record-dir" and len(rest) > 1:
            record_dir, rest = rest[1], rest[2:]
        elif rest[0] == "--environment" and len(rest) > 1:
            try:
                environment = json.loads(rest[1])
            except ValueError:
                return None
            if not isinstance(environment, list) or not environment or not all(isinstance(w, str) for w in environment):
                return None
            rest = rest[2:]
        else:
            return None
    return (snapshot, record_dir, environment, rest) if len(rest) >= 3 and argv[0] == "verify" else None


def record_stem() -> str:
    """One start's name: time, host and PID (unique on a shared filesystem)."""
    return f"{int(time.time() * 1000)}-{socket.gethostname()}-{os.getpid()}"


def _write_atomic(path: str, data: bytes) -> None:
    with open(path + ".tmp", "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(path + ".tmp", path)


def environment_dir(record_dir: str) -> str:
    """Where the environment of each start goes: `environment/` beside the record folder."""
    return os.path.join(os.path.dirname(os.path.normpath(record_dir)), ENVIRONMENT_FOLDER)


def capture_environment(record_dir: str, stem: str, probe: list[str]) -> dict:
    """Run the environment probe and keep what it printed as `environment/<stem>.json`: {"file", "sha256"} for
    the record, or {"error"} saying why there is none (the run goes on either way)."""
    import subprocess

    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        done = subprocess.run(
            probe, capture_output=True, timeout=ENVIRONMENT_TIMEOUT_S, env=env, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return {"error": f"the environment probe gave no answer within {ENVIRONMENT_TIMEOUT_S} s"}
    except OSError as exc:
        return {"error": f"the environment probe could not start: {exc}"}
    try:
        found = json.loads(done.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        found = None
    if done.returncode != 0 or not isinstance(found, dict):
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return {"error": f"the environment probe failed (exit {done.returncode}): {said[-1] if said else 'no output'}"}
    data = json.dumps(found, indent=1, sort_keys=True).encode() + b"\n"
    folder = environment_dir(record_dir)
    os.makedirs(folder, exist_ok=True)
    name = f"{stem}.json"
    _write_atomic(os.path.join(folder, name), data)
    return {"file": name, "sha256": hashlib.sha256(data).hexdigest()}


def write_record(
    record_dir: str, folder: str, approved: str, command: list[str], stem: str = "", environment: dict | None = None
) -> str:
    """Provenance of what this guard starts, written before it starts: one JSON file per start."""
    now = time.time()
    tasks = os.environ.get("EXPRUN_TASKS") or os.environ.get("EXPRUN_SEEDS") or ""
    slurm = os.environ.get("SLURM_ARRAY_JOB_ID", os.environ.get("SLURM_JOB_ID", ""))
    record = {
        "run_id": os.environ.get("EXPRUN_RUN_ID", ""),
        "approved_hash": approved,
        "code_dir": folder,
        "tasks": tasks.split(),
        "command": command,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "slurm_job": f"{slurm}_{os.environ['SLURM_ARRAY_TASK_ID']}"
        if slurm and "SLURM_ARRAY_TASK_ID" in os.environ
        else slurm,
    }
    if environment is not None:
        record["environment"] = environment
    os.makedirs(record_dir, exist_ok=True)
    path = os.path.join(record_dir, f"{stem or record_stem()}.json")
    _write_atomic(path, json.dumps(record, indent=2, sort_keys=True).encode())
    return path


def guard(argv: list[str]) -> int:
    """`verify [--snapshot] [--record-dir DIR] <code dir> <approved hash> <command...>`: exec the command only if
    the folder hashes as approved (a snapshot: and holds nothing else), after recording what it starts."""
    parsed = _options(argv)
    if parsed is None:
        print(USAGE, file=sys.stderr)
        return 2
    snapshot, record_dir, probe, (folder, approved, *command) = parsed
    try:
        extra = beyond_approved(folder) if snapshot else []
        found = folder_hash(folder)
    except (OSError, LinkLoop) as exc:
        return _refuse(f"cannot hash {folder}: {exc}")
    if extra:
        return _refuse(
            f"{folder} holds files no approval covers ({', '.join(extra[:5])}"
            f"{', …' if len(extra) > 5 else ''}): a snapshot is exactly the approved files"
        )
    if found != approved:
        return _refuse(
            f"{folder} is not the approved code (hash {found[:12]}, approved {approved[:12]}): "
            "it changed after approval. Review it and approve again"
        )
    if record_dir:
        stem, environment = record_stem(), None
        if probe:
            try:
                environment = capture_environment(record_dir, stem, probe)
            except OSError as exc:
                environment = {"error": f"cannot write the environment file ({exc})"}
            if environment.get("error"):
                said = f"[exprun guard] environment not recorded: {environment['error']}; the run goes on"
                print(said, file=sys.stderr)
        try:
            write_record(record_dir, folder, approved, command, stem, environment)
        except OSError as exc:
            return _refuse(f"cannot write the provenance record in {record_dir} ({exc})")
    # Bytecode is never trusted: compiled from the approved source each time, no cache read from elsewhere,
    # and the approved hash is not handed to the program (it cannot vouch for itself with it).
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    for name in ("PYTHONPYCACHEPREFIX", "EXPRUN_CODE_HASH"):
        os.environ.pop(name, None)
    sys.stdout.flush()
    os.execvp(command[0], command)
    return 127  # not reached


def guard_command(
    python: str,
    code_dir: str,
    approved_hash: str,
    command: list[str],
    snapshot: bool = False,
    record_dir: str = "",
    environment: list[str] | None = None,
) -> list[str]:
    """The argument list that checks the code, then becomes `command` (same PID, same exit status). `-I`: the
    guard's imports come from the standard library only (not the working folder, PYTHONPATH or user site).
    `environment`: the probe to run (and record) before the command starts; needs `record_dir`."""
    options = ["--snapshot"] if snapshot else []
    if environment and record_dir:
        options += ["--environment", json.dumps(environment)]
    options += ["--record-dir", record_dir] if record_dir else []
    return [python, "-I", "-c", guard_source(), "verify", *options, code_dir, approved_hash, *command]


def guard_source() -> str:
    """This module's source, run as `python -c` where exprun is not installed."""
    with open(__file__, encoding="utf-8") as handle:
        return handle.read()


if __name__ == "__main__":
    sys.exit(guard(sys.argv[1:]))
