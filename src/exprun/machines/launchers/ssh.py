"""Runs on the remote server under GNU screen, over one RemoteSession.

The same shape as launchers/screen (launch -> RunRecord, state, stop, tail) and
the same wrapper line (screen.wrapper_script: pipefail, PID file, exit-status
file), with remote paths. The record is also kept on the server, next to the
exit status, so any machine holding config/server.yaml can answer for the run.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from exprun.core.errors import LaunchError, RemoteError
from exprun.core.paths import Paths
from exprun.logs.logtail import TAIL_BYTES, decode_tail
from exprun.machines.launchers import screen
from exprun.machines.launchers.base import Backend, RunRecord, RunSpec, RunState, foreign_state, judge_state, task_dir
from exprun.remote import transfer
from exprun.remote.session import RemoteSession

BOOT_ID = "/proc/sys/kernel/random/boot_id"
PID_WAIT_S = screen.PID_WAIT_S
NOT_FOUND = 127


def remote_paths(slug: str, work_dir: PurePosixPath) -> dict[str, PurePosixPath]:
    """The run's files on the server: the local layout (state.Paths) under work_dir."""
    paths = Paths(slug, Path(str(work_dir)))
    return {name: PurePosixPath(str(getattr(paths, name))) for name in ("log", "exit_status", "run", "code_dir")}


def run_spec(slug: str, command: list[str], work_dir: PurePosixPath, env: dict[str, str] | None = None) -> RunSpec:
    """A RunSpec whose paths live on the server (work_dir is the remote wiki root)."""
    files = remote_paths(slug, work_dir)
    return RunSpec(
        slug=slug,
        command=list(command),
        cwd=work_dir,
        log=files["log"],
        exit_file=files["exit_status"],
        env=dict(env or {}),
    )


def sessions(session: RemoteSession) -> dict[str, int]:
    ((code, out),) = session.run_many([["screen", "-ls"]])
    _require_screen(code, session)
    return screen.parse_sessions(out)


def _require_screen(code: int, session: RemoteSession) -> None:
    if code == NOT_FOUND:
        raise LaunchError(f"GNU screen is not installed on {session.label}: run `apt-get install screen` there")


def launch(spec: RunSpec, session: RemoteSession, **fields) -> RunRecord:
    """Start the run detached on the server; refuse when a session with exactly this name exists there.

    `fields` (gpu_ids, approved_hash, run_id) go into the record before its one save on the server.
    """
    name = screen.session_name(spec.slug)
    (screen_code, listing), (_, boot) = session.run_many([["screen", "-ls"], ["cat", BOOT_ID]])
    _require_screen(screen_code, session)
    if name in screen.parse_sessions(listing):
        raise LaunchError(
            f"a screen session named {name} already exists on {session.label}; "
            f"check it with `check --name {name}` or stop it first"
        )
    sftp = session.sftp()
    log, exit_file = PurePosixPath(str(spec.log)), PurePosixPath(str(spec.exit_file))
    pid_file = PurePosixPath(f"{exit_file}.pid")
    for folder in {log.parent, exit_file.parent}:
        transfer.makedirs(sftp, folder)
    transfer.remove(sftp, exit_file)
    transfer.remove(sftp, pid_file)
    before = transfer.stat_or_none(sftp, log)
    code, out, err = session.run(["screen", "-dmS", name, "bash", "-c", screen.wrapper_script(spec, pid_file)])
    if code != 0:
        raise LaunchError(f"screen could not start {name} on {session.label}: {(err or out).strip()}")
    pid = _wait_for_pid(session, pid_file)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    record = RunRecord(
        slug=spec.slug,
        backend=Backend.SSH,
        session=name,
        pid=pid,
        started_at=started,
        host=session.server.host,
        boot_id=boot.strip(),
        command=list(spec.command),
        cwd=str(spec.cwd),
        log=str(log),
        exit_file=str(exit_file),
        env=dict(spec.env),
    )
    # Only the server knows where this attempt's output starts in an appended log.
    record.history.append({"event": "launch", "at": started, "log_offset": before.st_size if before else 0})
    for name, value in fields.items():
        setattr(record, name, value)
    save_record(record, session)
    return record


def _wait_for_pid(session: RemoteSession, pid_file: PurePosixPath) -> int:
    deadline = time.monotonic() + PID_WAIT_S
    while time.monotonic() < deadline:
        text = (transfer.read_bytes(session.sftp(), pid_file) or b"").decode().strip()
        if text.isdigit():
            return int(text)
        time.sleep(0.05)
    raise LaunchError(f"the screen session on {session.label} did not start (no PID after {PID_WAIT_S:.0f} s)")


def save_record(record: RunRecord, session: RemoteSession) -> None:
    path = remote_paths(record.slug, session.work_dir)["run"]
    transfer.write_bytes(session.sftp(), path, json.dumps(asdict(record), indent=2, sort_keys=True).encode() + b"\n")


def load_record(slug: str, session: RemoteSession) -> RunRecord:
    """The record launch left on the server; LaunchError when there is none."""
    path = remote_paths(slug, session.work_dir)["run"]
    data = transfer.read_bytes(session.sftp(), path)
    if data is None:
        raise LaunchError(f"no run named exp-{slug} on {session.label}: {path} does not exist (launch it first)")
    try:
        fields = json.loads(data)
    except ValueError as exc:
        raise RemoteError(f"{path} on {session.label} is not a run record: {exc}") from None
    return RunRecord(**{k: v for k, v in fields.items() if k in RunRecord.__dataclass_fields__})


def state(record: RunRecord, session: RemoteSession) -> RunState:
    """Alive only if the exact session exists AND the recorded PID lives on the same boot (one round trip)."""
    (_, boot), (exit_code, exit_text), (kill_code, _), (screen_code, listing) = session.run_many(
        [["cat", BOOT_ID], ["cat", record.exit_file], ["kill", "-0", str(record.pid)], ["screen", "-ls"]]
    )
    _require_screen(screen_code, session)
    code = int(exit_text.strip()) if exit_code == 0 and exit_text.strip().lstrip("-").isdigit() else None
    same_boot = boot.strip() == record.boot_id
    return judge_state(code, same_boot, kill_code == 0, record.session in screen.parse_sessions(listing), "server")


def snapshot(records: list[RunRecord], session: RemoteSession) -> dict[str, tuple[RunState, float | None]]:
    """State and log age of many runs in ONE round trip (a status over 20 remote runs is one command)."""
    commands = [["cat", BOOT_ID], ["screen", "-ls"], ["date", "+%s"]]
    for record in records:
        log = on_server(session, record.log)  # the newest write to the run's log or to any task's log
        commands += [
            ["cat", on_server(session, record.exit_file)],
            ["kill", "-0", str(int(record.pid))],
            ["find", log, task_dir(log), "-maxdepth", "1", "-name", "*.log", "-printf", "%T@\\n"],
        ]
    answers = session.run_many(commands)
    (_, boot), (screen_code, listing), (_, now) = answers[:3]
    _require_screen(screen_code, session)
    listed = screen.parse_sessions(listing)
    found = {}
    for index, record in enumerate(records):
        (exit_code, exit_text), (kill_code, _), (_, mtime) = answers[3 + 3 * index : 6 + 3 * index]
        code = int(exit_text.strip()) if exit_code == 0 and exit_text.strip().lstrip("-").isdigit() else None
        judged = (
            foreign_state(record.session in listed)
            if record.foreign
            else judge_state(code, boot.strip() == record.boot_id, kill_code == 0, record.session in listed, "server")
        )
        age = _age(mtime, now)
        found[record.slug] = (judged, age)
    return found


def _age(mtimes: str, now: str) -> float | None:
    """Seconds since the newest of `find -printf %T@` times, by the server's `date +%s`; None when unknown
    (find exits non-zero when the task folder is missing, yet prints the log's time)."""
    times = [float(t) for t in mtimes.split() if t.replace(".", "", 1).isdigit()]
    if not times or not now.strip().isdigit():
        return None
    return max(0.0, float(int(now.strip()) - int(max(times))))


def stop(record: RunRecord, session: RemoteSession) -> None:
    """Quit the session and wait (10 s at most) for the run's PID to go; the waiting happens on the server."""
    if record.session in sessions(session):
        session.run(["screen", "-S", record.session, "-X", "quit"])
    wait = f"for i in $(seq 100); do kill -0 {int(record.pid)} 2>/dev/null || exit 0; sleep 0.1; done; exit 1"
    session.run(["sh", "-c", wait], timeout=30)


def tail(record: RunRecord, session: RemoteSession, max_bytes: int = TAIL_BYTES, start: int = 0) -> str:
    return read_tail(session, PurePosixPath(on_server(session, record.log)), max_bytes, start)


def pull_run_evidence(session: RemoteSession, record: RunRecord, root: Path) -> None:
    """A run's results folder, the guard's provenance records of its attempt and the environments it recorded,
    each to the same path here."""
    from exprun.remote import pull
    from exprun.trust import provenance

    pull.pull_if_present(session, Paths(record.slug, Path()).results_dir.as_posix() + "/", root)
    pull.pull_if_present(session, provenance.record_dir(record.slug, record.attempt) + "/", root)
    pull.pull_if_present(session, provenance.environment_dir(record.slug, record.attempt) + "/", root)


def on_server(session: RemoteSession, path: str) -> str:
    """A record's path on the server: a relative one (a run someone else launched, from its page's run_log) is
    under work_dir."""
    return path if PurePosixPath(path).is_absolute() else str(session.work_dir / path)


def read_tail(session: RemoteSession, log: PurePosixPath, max_bytes: int = TAIL_BYTES, start: int = 0) -> str:
    """The last max_bytes of a remote log (never before `start`), cut and decoded exactly as logtail does."""
    sftp = session.sftp()
    attrs = transfer.stat_or_none(sftp, log)
    if attrs is None:
        return ""
    size = attrs.st_size or 0
    begin = max(start, size - max_bytes, 0)
    data = transfer.read_bytes(sftp, log, limit=size - begin, offset=begin) or b""
    return decode_tail(data, cut=begin > start)


def seconds_since_write(session: RemoteSession, log: PurePosixPath) -> float | None:
    """Age of the log's last write by the server's clock (a skewed local clock must not look like a stall)."""
    (stat_code, mtime), (_, now) = session.run_many([["stat", "-c", "%Y", str(log)], ["date", "+%s"]])
    if stat_code != 0 or not mtime.strip().isdigit() or not now.strip().isdigit():
        return None
    return float(int(now.strip()) - int(mtime.strip()))


__all__ = ["launch", "state", "stop", "tail", "read_tail", "run_spec", "load_record", "save_record", "sessions"]
