"""Local runs under GNU screen: detached, named `exp-{slug}`, exit status kept in a file.

The command is an argument list until the single point where screen needs a
shell string; there it is joined with shlex, so paths with spaces or quotes
reach the program unchanged.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path, PurePath

from exprun.core.errors import LaunchError
from exprun.core.files import pid_alive
from exprun.machines.launchers.base import (
    ON_EXIT,
    Backend,
    RunRecord,
    RunSpec,
    RunState,
    boot_id,
    foreign_state,
    hostname,
    judge_state,
    read_exit_code,
)

SESSION_LINE = re.compile(r"^\s*(\d+)\.(\S+)\s", re.M)
PID_WAIT_S = 10.0


def session_name(slug: str) -> str:
    return f"exp-{slug}"


def screen_binary() -> str:
    path = shutil.which("screen")
    if not path:
        raise LaunchError("GNU screen is not installed: `apt-get install screen` (or run `make install` as root)")
    return path


def parse_sessions(text: str) -> dict[str, int]:
    """`screen -ls` output -> exact session name -> screen PID."""
    return {name: int(pid) for pid, name in SESSION_LINE.findall(text)}


def sessions() -> dict[str, int]:
    """Every screen session of this user: exact name -> screen PID."""
    return parse_sessions(subprocess.run([screen_binary(), "-ls"], capture_output=True, text=True).stdout)


def session_exists(name: str) -> bool:
    """Exact match: `exp-foo` running does not make `exp-foo-ablation` exist."""
    return name in sessions()


def wrapper_script(spec: RunSpec, pid_file: PurePath) -> str:
    """The shell line screen runs: pipefail so tee keeps the exit status, written atomically at the end; then
    `on_exit` (what it says goes to the log; its own status changes nothing)."""
    q = shlex.quote
    exports = "".join(f"export {k}={q(v)}; " for k, v in sorted(spec.env.items()))
    exit_tmp = f"{spec.exit_file}.tmp"
    after = f"; {shlex.join(spec.on_exit)} >> {q(str(spec.log))} 2>&1" if spec.on_exit else ""
    return (
        f"set -o pipefail; echo $$ > {q(str(pid_file))}; cd {q(str(spec.cwd))} || exit 97; {exports}"
        f"{shlex.join(spec.command)} 2>&1 | tee -a {q(str(spec.log))}; "
        f"code=$?; echo $code > {q(exit_tmp)} && mv -f {q(exit_tmp)} {q(str(spec.exit_file))}{after}"
    )


def launch(spec: RunSpec) -> RunRecord:
    """Start the run detached; refuse when a session with exactly this name exists."""
    name = session_name(spec.slug)
    if session_exists(name):
        raise LaunchError(
            f"a screen session named {name} already exists; attach with `screen -r {name}` or stop it first"
        )
    Path(spec.log).parent.mkdir(parents=True, exist_ok=True)
    Path(spec.exit_file).parent.mkdir(parents=True, exist_ok=True)
    Path(spec.exit_file).unlink(missing_ok=True)
    pid_file = Path(f"{spec.exit_file}.pid")
    pid_file.unlink(missing_ok=True)
    subprocess.run([screen_binary(), "-dmS", name, "bash", "-c", wrapper_script(spec, pid_file)], check=True)
    pid = _wait_for_pid(pid_file)
    if pid is None:
        raise LaunchError(f"screen session {name} did not start (no PID after {PID_WAIT_S:.0f} s); see {spec.log}")
    return RunRecord(
        slug=spec.slug,
        backend=Backend.SCREEN,
        session=name,
        pid=pid,
        started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        host=hostname(),
        boot_id=boot_id(),
        command=list(spec.command),
        cwd=str(spec.cwd),
        log=str(spec.log),
        exit_file=str(spec.exit_file),
        env=dict(spec.env),
        details={ON_EXIT: list(spec.on_exit)} if spec.on_exit else {},
    )


def _wait_for_pid(pid_file: Path) -> int | None:
    deadline = time.monotonic() + PID_WAIT_S
    while time.monotonic() < deadline:
        try:
            return int(pid_file.read_text().strip())
        except (OSError, ValueError):
            time.sleep(0.02)
    return None


def state(record: RunRecord, known_sessions: dict[str, int] | None = None) -> RunState:
    """Alive only if the exact session exists AND the recorded PID lives on the same boot.

    known_sessions: a `sessions()` snapshot shared by many checks (one `screen -ls` per scan).
    """
    if record.foreign:
        return foreign_state(record.session in (known_sessions if known_sessions is not None else sessions()))
    code = read_exit_code(Path(record.exit_file))
    same_boot = record.boot_id == boot_id()
    alive = code is None and same_boot and pid_alive(record.pid)
    listed = alive and record.session in (known_sessions if known_sessions is not None else sessions())
    return judge_state(code, same_boot, alive, listed)


def stop(record: RunRecord) -> None:
    """Stop the session (used by the automatic fix before relaunching)."""
    if session_exists(record.session):
        subprocess.run([screen_binary(), "-S", record.session, "-X", "quit"], capture_output=True)
    deadline = time.monotonic() + 10
    while pid_alive(record.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
