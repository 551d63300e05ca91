"""The shared shape of every launcher: what to run, what was started, what it is doing."""

from __future__ import annotations

import shlex
import socket
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path, PurePath

from exprun.core.errors import LaunchError
from exprun.core.files import atomic_write_json, read_json

RECORD_VERSION = 3  # 1: bookkeeping in env, no attempt/run id; 2: details, attempt, run_id; 3: snapshot, provenance


class Backend(str, Enum):
    """Where a run lives; the one vocabulary for deploy, collect, status and the reports."""

    SCREEN = "screen"  # GNU screen on this machine
    SSH = "ssh"  # GNU screen on the remote server of config/server.yaml
    SLURM = "slurm"  # one sbatch array, a task per seed
    JOBS = "jobs"  # each seed a Snakemake job (full_via: jobs)

    @property
    def env_label(self) -> str:
        """The page's and the wiki log's word for it (`env: ...`)."""
        return {"screen": "local", "ssh": "remote", "slurm": "slurm", "jobs": "snakemake jobs"}[self.value]


class RunStatus(str, Enum):
    RUNNING = "running"
    EXITED = "exited"  # with its exit code, None when no exit status was written
    LOST = "lost"  # gone without an exit status (killed, rebooted)
    UNKNOWN = "unknown"  # nobody could say (SLURM's sacct and squeue silent): check again, never collect on it


RUNNING, EXITED, LOST, UNKNOWN = RunStatus.RUNNING, RunStatus.EXITED, RunStatus.LOST, RunStatus.UNKNOWN
ON_EXIT = "on_exit"  # details key: RunSpec.on_exit as launched, so a relaunch keeps it


@dataclass
class RunSpec:
    """What to launch: an argument list, run from cwd, output appended to log; `on_exit`, an argument list the run
    script runs once the program has ended and its exit status is written (its failure changes nothing)."""

    slug: str
    command: list[str]
    cwd: PurePath  # a PurePosixPath when the run lives on a server
    log: PurePath
    exit_file: PurePath
    env: dict[str, str] = field(default_factory=dict)
    on_exit: list[str] = field(default_factory=list)

    @classmethod
    def again(
        cls, record: RunRecord, extra_args: list[str], env: dict[str, str] | None, path: type[PurePath]
    ) -> RunSpec:
        """The record's command again with extra_args appended and env's changes, where it ran (`path`: Path
        here, PurePosixPath on a server)."""
        return cls(
            record.slug,
            [*record.command, *extra_args],
            path(record.cwd),
            path(record.log),
            path(record.exit_file),
            {**record.env, **(env or {})},
            list(record.details.get(ON_EXIT) or []),
        )


@dataclass
class RunRecord:
    """What was launched; everything a later process needs to find the run again.

    Core fields mean the same for every backend; `session` is the handle a person uses (the screen
    session, the SLURM job id, "snakemake"), `pid`/`boot_id` are 0/"" where no process is ours,
    and what only one backend needs lives in `details` (SLURM's job id, array size, submit route).
    """

    slug: str
    backend: Backend
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
    details: dict = field(default_factory=dict)
    snapshot: str = ""  # the approved snapshot it runs (snapshots/<hash16>/<slug>), relative to the wiki root
    capsule: str = ""  # SHA-256 of attempts/<n>/capsule.json as exprun wrote it at launch (run/capsule.py)
    version: int = RECORD_VERSION

    @property
    def guarded(self) -> bool:
        """Launched from a snapshot behind a guard that records what it starts (version 3 on): only tasks those
        records name may count."""
        return bool(self.snapshot) and not self.foreign

    @property
    def log_offset(self) -> int:
        """Where the current attempt's output starts in the log (after an automatic fix, later)."""
        launches = [h for h in self.history if h.get("event") in ("launch", "relaunch")]
        return int(launches[-1].get("log_offset", 0)) if launches else 0

    @property
    def foreign(self) -> bool:
        """Launched by someone else (the wiki's agent): no PID, exit status, approval or run id of exprun's."""
        return bool(self.details.get("foreign"))

    def __post_init__(self) -> None:
        try:
            self.backend = Backend(self.backend)
        except ValueError:
            raise LaunchError(f"run record backend '{self.backend}' is not known to this version of exprun") from None

    def save(self, path: Path) -> None:
        """Write the record; the state folder's run.json also gets a copy in its attempt's folder
        (attempts/<n>/run.record.json), from which a lost or damaged run.json is restored."""
        data = asdict(self)
        data["backend"] = self.backend.value
        atomic_write_json(path, data)
        if Path(path).name == "run.json" and self.attempt:
            atomic_write_json(copy_path(Path(path), self.attempt), data)

    @classmethod
    def from_dict(cls, data: dict) -> RunRecord:
        """Any version: a version-1 record's SLURM bookkeeping moves from env to details."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if int(known.get("version", 1)) < 2:
            env = dict(known.get("env") or {})
            details = {
                "job_id": env.pop("EXPRUN_SLURM_JOB_ID", None),
                "array_size": env.pop("EXPRUN_SLURM_ARRAY_SIZE", None),
                "via": env.pop("EXPRUN_SLURM_VIA", None),
            }
            known.update(env=env, details={k: v for k, v in details.items() if v}, version=RECORD_VERSION)
        return cls(**known)

    @classmethod
    def load(cls, path: Path) -> RunRecord | None:
        """The record at path; None when there is none; RecordError (one line: the file and the way back)
        when it cannot be read."""
        try:
            data = read_json(path)
            if data and not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return cls.from_dict(data) if data else None
        except (ValueError, TypeError, OSError, UnicodeDecodeError) as exc:
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise RecordError(f"{path}: the run record cannot be read ({why}); {restore_hint(Path(path))}") from None


class RecordError(LaunchError):
    """A run record that exists but cannot be read."""


def copy_path(run_json: Path, attempt: int) -> Path:
    """The copy of a state folder's run.json kept in its attempt's folder."""
    return Path(run_json).parent / "attempts" / str(int(attempt)) / "run.record.json"


def latest_copy(run_json: Path) -> Path | None:
    """The newest attempt's copy of run.json, if any."""
    copies = [p for p in (Path(run_json).parent / "attempts").glob("*/run.record.json") if p.parent.name.isdigit()]
    return max(copies, key=lambda p: int(p.parent.name), default=None)


def restore_hint(run_json: Path) -> str:
    copy = latest_copy(run_json)
    if copy is not None:
        return (
            f"a copy made at launch is {copy}: `cp {shlex.quote(str(copy))} {shlex.quote(str(run_json))}` restores it"
        )
    return "no copy of it was kept: restore it from a backup, or abandon the run and plan it again"


@dataclass
class RunState:
    """A RunStatus, the exit code when it exited, and the reason in words."""

    state: RunStatus
    exit_code: int | None = None
    detail: str = ""

    @property
    def alive(self) -> bool:
        """Not ended: running, or unknown (never collected on)."""
        return self.state in (RunStatus.RUNNING, RunStatus.UNKNOWN)


def boot_id() -> str:
    """Changes on every reboot, so a PID from before a reboot is never taken as alive."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def hostname() -> str:
    return socket.gethostname()


def record_tasks(record: RunRecord) -> list[str]:
    """The tasks (seeds, or arm:seed words) this attempt runs, as launched."""
    return record.env.get("EXPRUN_TASKS", "").split()


def task_log_name(task: str) -> str:
    """run.sh's file name of a task's log and exit status: arm:3 -> arm_seed3 (a plain seed stays itself)."""
    return task.replace(":", "_seed", 1)


def task_dir(log: str) -> str:
    """logs/exp-<slug>.tasks beside logs/exp-<slug>.log, as run.sh names it."""
    return log[: -len(".log")] + ".tasks" if log.endswith(".log") else log + ".tasks"


def task_log_paths(record: RunRecord) -> dict[str, str]:
    """Each task's own log as run.sh writes it (logs/exp-<slug>.tasks/<arm>_seed<N>.log), by task word."""
    folder = task_dir(record.log)
    return {task: f"{folder}/{task_log_name(task)}.log" for task in record_tasks(record)}


def runs_tasks_in_parallel(record: RunRecord) -> bool:
    """Parallel tasks write only to their own logs (the run's log has just their start and end lines)."""
    return int(record.env.get("EXPRUN_PARALLEL", "1") or 1) > 1


def read_exit_code(path: Path) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def foreign_state(session_listed: bool) -> RunState:
    """A session exprun did not launch: alive while its exact name is listed; then ended, exit status unknown."""
    if session_listed:
        return RunState(RUNNING, None, "session listed (not launched by exprun)")
    return RunState(EXITED, None, "the session ended; it was not launched by exprun, so no exit status was recorded")


def judge_state(
    exit_code: int | None, same_boot: bool, pid_is_alive: bool, session_listed: bool, place: str = "machine"
) -> RunState:
    """The one rule for every screen run, local or remote: alive needs no exit status yet, the same
    boot, a live PID and the exact session; an exit status means exited; anything else is lost."""
    if exit_code is None and same_boot and pid_is_alive and session_listed:
        return RunState(RUNNING)
    if exit_code is not None:
        return RunState(EXITED, exit_code, f"exit status {exit_code}")
    reason = (
        f"{place} rebooted since launch" if not same_boot else "session ended without writing an exit status (killed?)"
    )
    return RunState(LOST, None, reason)
