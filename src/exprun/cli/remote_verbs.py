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

from exprun.core import config
from exprun.core.errors import LaunchError, RemoteError
from exprun.core.paths import Paths
from exprun.core.slugs import validate_slug
from exprun.logs import monitor
from exprun.machines import remote_gpus as gpus
from exprun.machines.launchers import screen, ssh
from exprun.prepare.codegen import manifest
from exprun.remote import envsetup, pull, sync, transfer
from exprun.remote.server_config import ServerConfig
from exprun.remote.session import RemoteSession
from exprun.trust import integrity

GPU_LIST = re.compile(r"^\d+(,\d+)*$")
DEFAULT_TAIL_LINES = 50  # tail-log, as the wiki's remote.py
CHECK_LAST_LINES = 20  # check's last_lines, as the wiki's remote.py
# exprun's anomaly kinds under the names the wiki's remote.py gives them (its `type`).
WIKI_ANOMALY_TYPES = {
    "nan_loss": "NaN detected",
    "inf_loss": "Infinite loss",
    "oom": "OOM",
    "traceback": "Traceback/crash",
}
CRASHES = {"traceback", "killed", "command_not_found", "nonzero_exit", "lost", "guard_refused"}


def slug_of(name: str) -> str:
    """`exp-foo` or `foo` -> `foo`; the session is always `exp-<slug>`."""
    return validate_slug(name[4:] if name.startswith("exp-") else name)


def status(session: RemoteSession, server: ServerConfig) -> dict:
    """Reachable, who and where, the GPUs, and whether the tools a run needs are there."""
    answers = session.run_many(
        [
            ["hostname"],
            ["cat", ssh.BOOT_ID],
            ["screen", "-ls"],
            ["python3", "--version"],
            ["nvidia-smi", "-L"],
            ["test", "-d", str(session.work_dir)],
        ]
    )
    (_, name), (_, boot), (screen_code, listing), (py_code, py), (smi_code, _), (dir_code, _) = answers
    view = (
        gpus.answer(gpus.query(session), server.free_gpu_threshold_mib, server.host)
        if smi_code == 0
        else {"gpus": [], "free_gpus": []}
    )
    return {
        "reachable": True,
        "host": session.server.host,
        "user": server.user,
        "gpus_description": server.gpus,
        "work_dir": str(session.work_dir),
        "gpu_count": len(view["gpus"]),
        "free_gpus": view["free_gpus"],
        "gpus": view["gpus"],
        "address": session.target.label,
        "remote_hostname": name.strip(),
        "boot_id": boot.strip(),
        "host_key": session.host_key,
        "work_dir_exists": dir_code == 0,
        "screen": screen_code != ssh.NOT_FOUND,
        "python3": py.strip() if py_code == 0 else "",
        "nvidia_smi": smi_code == 0,
        "sessions": sorted(s for s in screen.parse_sessions(listing) if s.startswith("exp-")),
    }


def unreachable(server: ServerConfig, error: RemoteError) -> dict:
    """status of a server that cannot be reached: an answer (exit 0), as the wiki's remote.py gives it."""
    return {"reachable": False, "host": server.host, "error": str(error)}


def check_unreachable(server: ServerConfig, name: str, error: RemoteError) -> dict:
    """check of a server that cannot be reached: an answer (exit 0) with the wiki tool's keys, as that tool gives
    one. Whether the run lives is not known, so `alive` is null and no `exit_reason` is given (the wiki's tool
    says `alive: false, exit_reason: completed` there, which would send an agent on to collect a run that may be
    going)."""
    return {
        "reachable": False,
        "host": server.host,
        "session": name,
        "name": name,
        "alive": None,
        "state": "unreachable",
        "last_lines": [],
        "anomalies": [],
        "log_file": f"logs/{name}.log",
        "error": str(error),
    }


def gpu_status(session: RemoteSession, server: ServerConfig) -> dict:
    """Each GPU with `free` (under free_gpu_threshold_mib and no compute process), for picking --gpu."""
    return gpus.answer(gpus.query(session), server.free_gpu_threshold_mib, server.host)


def sync_code(
    session: RemoteSession,
    server: ServerConfig,
    root: Path,
    slug: str | None,
    expected_hash: str | None = None,
    on_progress: sync.Progress | None = None,
    dry_run: bool = False,
) -> dict:
    """Upload one experiment's code (or every experiment's without --slug), then verify each remote hash
    (with dry_run: say what would be uploaded, change nothing)."""
    root = Path(root)
    if slug:
        slugs = [validate_slug(slug)]
    else:
        slugs = sorted(p.name for p in (root / "experiments" / "code").glob("*") if p.is_dir())
    if expected_hash and len(slugs) != 1:
        raise RemoteError("--expected-hash needs --slug (it is the approved hash of one experiment)")
    result = sync.upload(session, sync.plan(root, slugs, server), on_progress, dry_run=dry_run)
    hashes = {}
    for one in slugs if not dry_run else []:
        expected = expected_hash or manifest.folder_hash(Paths(one, root).code_dir)
        hashes[one] = sync.verify(session, one, expected)
    return {
        "host": server.host,
        "remote_path": str(session.work_dir),
        "dry_run": dry_run,
        "files_transferred": len(result["uploaded"]),
        "work_dir": str(session.work_dir),
        **result,
        "hashes": hashes,
    }


def setup_env(
    session: RemoteSession,
    server: ServerConfig,
    root: Path,
    slug: str | None,
    force: bool = False,
    requirements: str | None = None,
) -> dict:
    """pip install -r the synced requirements.txt, skipped while its sha256 and the environment are unchanged."""
    if requirements:  # a local file, uploaded to the same place under work_dir (the wiki tool's --requirements)
        local = Path(root) / _inside("--requirements", requirements)
        if not local.is_file():
            raise RemoteError(f"requirements file not found here: {local}")
        remote = session.work_dir / requirements
        transfer.makedirs(session.sftp(), remote.parent, set())
        transfer.upload(session.sftp(), local, remote)
    done = envsetup.setup_env(
        session, server, validate_slug(slug) if slug else None, force, requirements_file=requirements
    )
    tail = done.get("output_tail") or [f"(not reinstalled: {done.get('reason', 'unchanged')})"]
    return {"host": server.host, **done, "pip_output_tail": tail}


def launch(
    session: RemoteSession,
    server: ServerConfig,
    root: Path,
    name: str,
    cmd: str,
    gpu: str | None = None,
    expected_hash: str | None = None,
    log_file: str | None = None,
) -> dict:
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
    if gpu and not GPU_LIST.fullmatch(gpu):
        raise LaunchError(f"--gpu {gpu!r}: give GPU indices like 0 or 0,1")
    env = {"CUDA_VISIBLE_DEVICES": gpu} if gpu else {}
    # checked again by the server itself at the moment the command starts
    guarded = integrity.guard_command("python3", Paths(slug).code_dir.as_posix(), verified, argv) if verified else argv
    spec = ssh.run_spec(slug, envsetup.wrap(guarded, server, session), session.work_dir, env)
    if log_file:
        spec.log = session.work_dir / _inside("--log-file", log_file)
    record = ssh.launch(spec, session, gpu_ids=[int(i) for i in gpu.split(",")] if gpu else [], approved_hash=verified)
    # started: its session is listed, or it already ended and wrote its exit status (a quick command)
    listed = (
        record.session in _screen_sessions(session)
        or transfer.stat_or_none(session.sftp(), PurePosixPath(record.exit_file)) is not None
    )
    return {
        "host": server.host,
        "session": record.session,
        "gpu": gpu or "all",
        "log_file": log_file or Paths(slug).log.as_posix(),
        "remote_cmd": shlex.join(spec.command),
        "verified": listed,
        "pid": record.pid,
        "started_at": record.started_at,
        "log": record.log,
        "command": argv,
        "code_hash": verified,
        "guarded": bool(verified),
        "work_dir": record.cwd,
    }


def _inside(flag: str, rel: str) -> str:
    path = PurePosixPath(rel)
    if path.is_absolute() or ".." in path.parts:
        raise LaunchError(f"{flag} {rel!r}: give a path relative to work_dir, without '..'")
    return rel


def check(session: RemoteSession, root: Path, name: str, lines: int = CHECK_LAST_LINES) -> dict:
    """running / exited / lost, with progress and anomalies from the bounded log tail (monitor); a session exprun
    did not launch is checked by its name and the log file named after it."""
    from exprun.finish.inspection import MONITOR_LINES  # it imports the verdict engine; only check needs it

    settings = config.load(Path(root)).monitor
    try:
        record = ssh.load_record(slug_of(name), session)
    except LaunchError:
        return _check_unrecorded(session, name, settings, lines)
    run = ssh.state(record, session)
    tail = ssh.tail(record, session, start=record.log_offset).splitlines()[-MONITOR_LINES:]
    idle = ssh.seconds_since_write(session, PurePosixPath(record.log)) if run.alive else None
    anomalies = monitor.classify(
        tail, run.state, run.exit_code, idle, settings.stall_minutes * 60, settings.explode_factor
    )
    return {
        **_check_answer(session, record.session, run.alive, tail, anomalies, _relative(record.log, session), lines),
        "state": run.state,
        "exit_code": run.exit_code,
        "detail": run.detail,
        "pid": record.pid,
        "log": record.log,
        "started_at": record.started_at,
        "idle_seconds": idle,
        "launched_by_exprun": True,
    }


def _check_unrecorded(session: RemoteSession, name: str, settings, lines: int) -> dict:
    """A screen session someone else started (the wiki's agent): alive by exact name, log by convention."""
    from exprun.finish.inspection import MONITOR_LINES

    alive = name in _screen_sessions(session)
    text, source, log = _log_or_hardcopy(session, name)
    if not text and not alive:
        raise RemoteError(f"no session {name} on {session.label} and no log {log}; was it launched there?")
    tail = text.splitlines()[-MONITOR_LINES:]
    idle = ssh.seconds_since_write(session, log) if alive and source == "log_file" else None
    anomalies = monitor.classify(
        tail, "running" if alive else "ended", None, idle, settings.stall_minutes * 60, settings.explode_factor
    )
    return {
        **_check_answer(session, name, alive, tail, anomalies, _relative(str(log), session), lines),
        "state": "running" if alive else "ended",
        "exit_code": None,
        "source": source,
        "idle_seconds": idle,
        "launched_by_exprun": False,
    }


def _check_answer(
    session: RemoteSession, name: str, alive: bool, tail: list[str], anomalies: list, log_file: str, lines: int
) -> dict:
    """The wiki tool's check keys, with exprun's progress and anomaly details alongside."""
    progress = monitor.parse_progress(tail)
    answer = {
        "host": session.server.host,
        "session": name,
        "name": name,
        "alive": alive,
        "last_lines": tail[-lines:] if lines > 0 else [],
        "tail": tail[-lines:] if lines > 0 else [],
        "anomalies": [_wiki_anomaly(a, tail) for a in anomalies],
        "log_file": log_file,
        "progress": {
            "step": progress.step,
            "total": progress.total,
            "epoch": progress.epoch,
            "loss": progress.loss,
            "metrics": progress.metrics,
            "describe": progress.describe(),
        },
    }
    if not alive:
        answer["exit_reason"] = "crashed" if any(a.kind in CRASHES for a in anomalies) else "completed"
    return answer


def _wiki_anomaly(anomaly: monitor.Anomaly, lines: list[str]) -> dict:
    """{type, line_number, content} (0-based line in the scanned tail, as the wiki tool) plus exprun's fields."""
    first = anomaly.detail.splitlines()[0].strip() if anomaly.detail else ""
    index = next((i for i, line in enumerate(lines) if first and first in line), -1)
    content = (lines[index].strip() if index >= 0 else anomaly.detail)[:200]
    return {
        "type": WIKI_ANOMALY_TYPES.get(anomaly.kind, anomaly.kind),
        "line_number": index,
        "content": content,
        **anomaly.as_dict(),
    }


def _screen_sessions(session: RemoteSession) -> dict[str, int]:
    ((_, listing),) = session.run_many([["screen", "-ls"]])
    return screen.parse_sessions(listing)


def _relative(log: str, session: RemoteSession) -> str:
    path = PurePosixPath(log)
    try:
        return path.relative_to(session.work_dir).as_posix()
    except ValueError:
        return str(path)


def _log_or_hardcopy(session: RemoteSession, name: str) -> tuple[str, str, PurePosixPath]:
    """The session's log by convention (logs/<name>.log), else what its screen window shows."""
    log = session.work_dir / "logs" / f"{name}.log"
    text = ssh.read_tail(session, log)
    if text:
        return text, "log_file", log
    ((made, path),) = session.run_many([["mktemp"]])  # a private file: the window may show secrets
    if made != 0:
        return "", "log_file", log
    copy = PurePosixPath(path.strip())
    ((code, _),) = session.run_many([["screen", "-S", name, "-X", "hardcopy", str(copy)]])
    text = ssh.read_tail(session, copy) if code == 0 else ""
    session.run(["rm", "-f", str(copy)])
    return text, "screen_hardcopy" if text else "log_file", log


def tail_log(session: RemoteSession, name: str, lines: int = DEFAULT_TAIL_LINES) -> dict:
    """The log's last lines (read from at most its last 64 KiB), else the screen window's."""
    text, source, log = _log_or_hardcopy(session, name)
    if not text:
        raise RemoteError(
            f"no log output for session {name} on {session.label}: {log} does not exist and no "
            "screen window to copy; was it launched there?"
        )
    shown = text.splitlines()[-lines:] if lines > 0 else []
    return {
        "host": session.server.host,
        "session": name,
        "name": name,
        "source": source,
        "log": str(log),
        "lines": shown,
        "line_count": len(shown),
    }


def pull_results(
    session: RemoteSession, root: Path, remote_path: str, local_path: str, include_weights: bool = False
) -> dict:
    """Copy results (a folder or one file) here; a re-run only fetches what is missing or changed."""
    done = pull.pull(session, remote_path, local_path, root, include_weights)
    return {"host": session.server.host, **done, "files_transferred": len(done["downloaded"])}
