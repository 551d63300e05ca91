"""The shared shape of every launcher: what to run, what was started, what it is doing."""

from __future__ import annotations

import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..files import atomic_write_json, read_json

RUNNING, EXITED, LOST = "running", "exited", "lost"


@dataclass
class RunSpec:
    """What to launch: an argument list, run from cwd, output appended to log."""

    slug: str
    command: list[str]
    cwd: Path
    log: Path
    exit_file: Path
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class RunRecord:
    """What was launched; everything a later process needs to find the run again."""

    slug: str
    backend: str
    session: str
    pid: int
    started_at: str
    host: str
    boot_id: str
    command: list[str]
    cwd: str
    log: str
    exit_file: str
    gpu_ids: list[int] = field(default_factory=list)
    approved_hash: str = ""
    env: dict[str, str] = field(default_factory=dict)
    autofix: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    attempt: int = 0
    run_id: str = ""  # every seed file of this attempt carries it (EXPRUN_RUN_ID)
    page_written: bool = True  # False between a launch and the page saying `running`: a retry adopts the run
    sanity_skipped: bool = False  # `exprun deploy --skip-sanity`: a person's explicit override

    def save(self, path: Path) -> None:
        atomic_write_json(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> "RunRecord | None":
        data = read_json(path)
        if not data:
            return None
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class RunState:
    """running, exited (with its exit code, None when no exit status was written) or lost."""

    state: str
    exit_code: int | None = None
    detail: str = ""

    @property
    def alive(self) -> bool:
        return self.state == RUNNING


def boot_id() -> str:
    """Changes on every reboot, so a PID from before a reboot is never taken as alive."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def hostname() -> str:
    return socket.gethostname()


def read_exit_code(path: Path) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def judge_state(exit_code: int | None, same_boot: bool, pid_is_alive: bool, session_listed: bool, place: str = "machine") -> RunState:
    """The one rule for every screen run, local or remote: alive needs no exit status yet, the same
    boot, a live PID and the exact session; an exit status means exited; anything else is lost."""
    if exit_code is None and same_boot and pid_is_alive and session_listed:
        return RunState(RUNNING)
    if exit_code is not None:
        return RunState(EXITED, exit_code, f"exit status {exit_code}")
    reason = f"{place} rebooted since launch" if not same_boot else "session ended without writing an exit status (killed?)"
    return RunState(LOST, None, reason)
