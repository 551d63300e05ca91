"""The verbs of `exprun remote` / `tools/remote.py`: thin JSON adapters over remote/ (transport),
the launchers and collect, each over a session the caller opened.

Each returns the JSON answer's fields (the CLI adds "status": "ok"); anything
wrong raises an ExprunError whose message is the answer. Taking the session as
an argument lets a deploy chain sync, verify, setup and launch on one connection.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path, PurePosixPath

from .. import config, integrity, monitor
from ..codegen import manifest
from ..errors import LaunchError, RemoteError
from ..launchers import screen, ssh
from ..slugs import validate_slug
from ..state import Paths
from ..remote import envsetup, gpus, pull, sync, transfer
from ..remote.server_config import ServerConfig
from ..remote.session import RemoteSession

GPU_LIST = re.compile(r"^\d+(,\d+)*$")
DEFAULT_TAIL_LINES = 30


def slug_of(name: str) -> str:
    """`exp-foo` or `foo` -> `foo`; the session is always `exp-<slug>`."""
    return validate_slug(name[4:] if name.startswith("exp-") else name)


def status(session: RemoteSession) -> dict:
    """Reachable, who and where, and whether the tools a run needs are there."""
    answers = session.run_many([["hostname"], ["cat", ssh.BOOT_ID], ["screen", "-ls"], ["python3", "--version"],
                                ["nvidia-smi", "-L"], ["test", "-d", str(session.work_dir)]])
    (_, name), (_, boot), (screen_code, listing), (py_code, py), (smi_code, _), (dir_code, _) = answers
    return {"host": session.server.host, "address": session.target.label, "remote_hostname": name.strip(),
            "boot_id": boot.strip(), "host_key": session.host_key, "work_dir": str(session.work_dir),
            "work_dir_exists": dir_code == 0, "screen": screen_code != ssh.NOT_FOUND,
            "python3": py.strip() if py_code == 0 else "", "nvidia_smi": smi_code == 0,
            "sessions": sorted(s for s in screen.parse_sessions(listing) if s.startswith("exp-"))}


def gpu_status(session: RemoteSession, server: ServerConfig) -> dict:
    """Each GPU with `free` (under free_gpu_threshold_mib and no compute process), for picking --gpu."""
    return gpus.answer(gpus.query(session), server.free_gpu_threshold_mib, server.host)


def sync_code(session: RemoteSession, server: ServerConfig, root: Path, slug: str | None,
              expected_hash: str | None = None, on_progress: sync.Progress | None = None) -> dict:
    """Upload one experiment's code (or every experiment's without --slug), then verify each remote hash."""
    root = Path(root)
    if slug:
        slugs = [validate_slug(slug)]
    else:
        slugs = sorted(p.name for p in (root / "experiments" / "code").glob("*") if p.is_dir())
    if expected_hash and len(slugs) != 1:
        raise RemoteError("--expected-hash needs --slug (it is the approved hash of one experiment)")
    result = sync.upload(session, sync.plan(root, slugs, server), on_progress)
    hashes = {}
    for one in slugs:
        expected = expected_hash or manifest.folder_hash(Paths(one, root).code_dir)
        hashes[one] = sync.verify(session, one, expected)
    return {"host": server.host, "work_dir": str(session.work_dir), **result, "hashes": hashes}


def setup_env(session: RemoteSession, server: ServerConfig, slug: str | None, force: bool = False) -> dict:
    """pip install -r the synced requirements.txt, skipped while its sha256 and the environment are unchanged."""
    return {"host": server.host, **envsetup.setup_env(session, server, validate_slug(slug) if slug else None, force)}


def launch(session: RemoteSession, server: ServerConfig, root: Path, name: str, cmd: str,
           gpu: str | None = None, expected_hash: str | None = None) -> dict:
    """Verify the code (when it is known here), then start `cmd` under screen in work_dir."""
    slug = slug_of(name)
    code_dir = Paths(slug, root).code_dir
    expected = expected_hash or (manifest.folder_hash(code_dir) if code_dir.is_dir() else None)
    verified = sync.verify(session, slug, expected) if expected else ""
    try:
        argv = shlex.split(cmd)
    except ValueError as exc:
        raise LaunchError(f"--cmd {cmd!r} cannot be split into words: {exc}") from None
    if not argv:
        raise LaunchError("--cmd is empty; give the command to run, e.g. --cmd 'bash experiments/code/x/run.sh'")
    if gpu and not GPU_LIST.match(gpu):
        raise LaunchError(f"--gpu {gpu!r}: give GPU indices like 0 or 0,1")
    env = {"CUDA_VISIBLE_DEVICES": gpu} if gpu else {}
    # checked again by the server itself at the moment the command starts
    guarded = integrity.guard_command("python3", Paths(slug).code_dir.as_posix(), verified, argv) if verified else argv
    spec = ssh.run_spec(slug, envsetup.wrap(guarded, server, session), session.work_dir, env)
    record = ssh.launch(spec, session, gpu_ids=[int(i) for i in gpu.split(",")] if gpu else [], approved_hash=verified)
    return {"host": server.host, "session": record.session, "pid": record.pid, "started_at": record.started_at,
            "log": record.log, "log_file": Paths(slug).log.as_posix(), "gpu": gpu or "", "command": argv,
            "code_hash": verified, "guarded": bool(verified), "work_dir": record.cwd}


def check(session: RemoteSession, root: Path, name: str, lines: int = DEFAULT_TAIL_LINES) -> dict:
    """running / exited / lost, with progress and anomalies from the bounded log tail (monitor)."""
    from ..collect import MONITOR_LINES, log_offset  # noqa: PLC0415 - collect imports pandas; only check needs it

    settings = config.load(Path(root)).monitor
    record = ssh.load_record(slug_of(name), session)
    run = ssh.state(record, session)
    tail = ssh.tail(record, session, start=log_offset(record)).splitlines()[-MONITOR_LINES:]
    idle = ssh.seconds_since_write(session, PurePosixPath(record.log)) if run.alive else None
    anomalies = monitor.classify(tail, run.state, run.exit_code, idle, settings.stall_minutes * 60,
                                 settings.explode_factor)
    progress = monitor.parse_progress(tail)
    return {"host": session.server.host, "name": record.session, "state": run.state, "alive": run.alive,
            "exit_code": run.exit_code, "detail": run.detail, "pid": record.pid, "log": record.log,
            "started_at": record.started_at, "idle_seconds": idle,
            "progress": {"step": progress.step, "total": progress.total, "epoch": progress.epoch,
                         "loss": progress.loss, "metrics": progress.metrics, "describe": progress.describe()},
            "anomalies": [a.as_dict() for a in anomalies], "tail": tail[-lines:] if lines > 0 else []}


def tail_log(session: RemoteSession, name: str, lines: int = DEFAULT_TAIL_LINES) -> dict:
    """The log's last lines, read from at most its last 64 KiB."""
    log = ssh.remote_paths(slug_of(name), session.work_dir)["log"]
    text = ssh.read_tail(session, log)
    if not text and transfer.stat_or_none(session.sftp(), log) is None:
        raise RemoteError(f"{log} does not exist on {session.label}; was exp-{slug_of(name)} launched there?")
    return {"host": session.server.host, "name": screen.session_name(slug_of(name)), "log": str(log),
            "lines": text.splitlines()[-lines:] if lines > 0 else []}


def pull_results(session: RemoteSession, root: Path, remote_path: str, local_path: str,
                 include_weights: bool = False) -> dict:
    """Copy results (a folder or one file) here; a re-run only fetches what is missing or changed."""
    return {"host": session.server.host, **pull.pull(session, remote_path, local_path, root, include_weights)}
