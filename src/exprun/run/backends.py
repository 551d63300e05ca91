"""The launch interface: one abstract Launcher, one registry keyed by Backend, one pool for scans.

Deploy asks `launcher_class(backend_for(settings))(root).launch(request)`; collect, status and the
automatic fix ask `open_launcher(record, root)` for the launcher that answers for a run
record. Optional abilities are declared on the class (`supports_autofix`, `code_is_here`,
`expect`), never probed. To add a backend: a `Backend` member (launchers/base.py), a module
with a Launcher subclass, and one line in `LAUNCHERS`.
"""

from __future__ import annotations

import contextlib
import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from exprun.core.errors import GateError, LaunchError, RemoteError
from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.experiment.experiment_config import ExperimentConfig
from exprun.machines.launchers.base import Backend, RunRecord, RunSpec, RunState
from exprun.prepare.gpu_plan import GpuPlan, tasks_at_once
from exprun.run import capsule
from exprun.trust import integrity, provenance

# Backend -> "module:Class" under exprun.machines.launchers, imported on first use (paramiko only when remote).
LAUNCHERS: dict[Backend, str] = {
    Backend.SCREEN: "screen_backend:LocalScreen",
    Backend.SSH: "ssh_backend:RemoteScreen",
    Backend.SLURM: "slurm_backend:SlurmArray",
    Backend.JOBS: "jobs_backend:SeedJobs",
}
ENVIRONMENTS = {"local": Backend.SCREEN, "remote": Backend.SSH, "slurm": Backend.SLURM}


def run_command(
    snapshot_dir: str,
    approved_hash: str,
    record_dir: str,
    python: str = "python3",
    environment: list[str] | None = None,
) -> list[str]:
    """run.sh of the approved snapshot, relative to the wiki root, behind the integrity guard, which checks the
    snapshot strictly, records the run's environment (`environment`: the probe, run/capsule.py) and leaves its
    provenance record in `record_dir` (a relaunch appends its extra arguments; the guard hands them to run.sh)."""
    return integrity.guard_command(
        python,
        snapshot_dir,
        approved_hash,
        ["bash", f"{snapshot_dir}/run.sh"],
        snapshot=True,
        record_dir=record_dir,
        environment=environment,
    )


def run_folders(slug: str, where: str | PurePosixPath) -> dict[str, str]:
    """Where exprun tells every task to write (EXPRUN_RESULTS_DIR, EXPRUN_CHECKPOINT_DIR): this experiment's own
    folders under the wiki root of the machine that runs it; the program never chooses them."""
    paths = Paths(slug, Path())
    return {
        "EXPRUN_RESULTS_DIR": f"{where}/{paths.results_dir.as_posix()}",
        "EXPRUN_CHECKPOINT_DIR": f"{where}/{paths.checkpoint_dir.as_posix()}",
    }


@dataclass
class LaunchRequest:
    """What a deploy hands a launcher: the approved experiment, its settings, this attempt's number and run id,
    and (set by Launcher.launch) the snapshot it runs."""

    slug: str
    root: Path
    page: Any
    config: ExperimentConfig
    settings: Settings
    approved_hash: str
    run_id: str
    attempt: int = 0
    snapshot: str = ""
    on_exit: list[str] = field(default_factory=list)  # run by the run script after the program (notify.ended_hook)

    @property
    def record_dir(self) -> str:
        """Where the guard leaves each start's provenance, relative to the wiki root (on every machine)."""
        return provenance.record_dir(self.slug, self.attempt)

    def command(self, python: str) -> list[str]:
        """The guarded start of the snapshot's run.sh, the run's environment recorded first where it runs."""
        if not self.snapshot:
            raise LaunchError(f"{self.slug}: no snapshot taken; a run starts only from its approved snapshot")
        probe = capsule.probe_command(self.snapshot, self.interpreter)
        return run_command(self.snapshot, self.approved_hash, self.record_dir, python=python, environment=probe)

    @property
    def interpreter(self) -> dict:
        """How run.sh finds its Python (its activation line and DEFAULT_PYTHON), for the environment probe."""
        return capsule.interpreter_of(self.root, self.snapshot, self.settings)

    def run_env(self, where: str | PurePosixPath) -> dict[str, str]:
        """The run id every seed file carries and the folders exprun chose, for the machine whose wiki root is
        `where`."""
        return {"EXPRUN_RUN_ID": self.run_id, **run_folders(self.slug, where)}

    def run_spec(self, env: dict | None = None, python: str = "python3") -> RunSpec:
        """The guarded launch of the snapshot's run.sh from the wiki root here, as an argument list."""
        paths = Paths(self.slug, self.root)
        cwd = Path(self.root).resolve()
        return RunSpec(
            slug=self.slug,
            command=self.command(python),
            cwd=cwd,
            log=paths.log.resolve(),
            exit_file=paths.exit_status.resolve(),
            env={**self.run_env(cwd.as_posix()), **(env or {})},
            on_exit=list(self.on_exit),  # this machine's exprun: a launch from here can call it back
        )

    @property
    def seeds(self) -> list[str]:
        return [str(seed) for seed in self.config.seeds]

    @property
    def tasks(self) -> list[str]:
        """Every arm × seed as run.sh's words (the seeds alone for a single-arm experiment)."""
        from exprun.experiment import arms

        return arms.tasks(list(self.config.arms), self.seeds)

    def task_env(self, parallel: int, slots: list[list[int]] | None = None) -> dict[str, str]:
        """EXPRUN_TASKS, EXPRUN_PARALLEL and, with GPUs, one GPU set per parallel slot (EXPRUN_GPUS)."""
        env = {"EXPRUN_TASKS": " ".join(self.tasks), "EXPRUN_PARALLEL": str(parallel)}
        if slots:
            env["EXPRUN_GPUS"] = " ".join(",".join(map(str, slot)) for slot in slots)
        return env


class Launcher(ABC):
    """Starts runs of one backend and answers for their records."""

    backend: ClassVar[Backend]
    supports_autofix: ClassVar[bool] = True  # the one automatic fix may stop and relaunch its runs
    code_is_here: ClassVar[bool] = True  # the code folder the run executes is this machine's
    supports_task_reruns: ClassVar[bool] = False  # relaunch(env={"EXPRUN_TASKS": ...}) reruns just those tasks
    sanity_place: ClassVar[str] = ""  # where the sanity run must have passed before a deploy here ("" = anywhere)
    # run.sh runs the tasks one after the other into one log (unless EXPRUN_PARALLEL > 1): its order is progress
    runs_tasks_in_order: ClassVar[bool] = False

    def __init__(self, root: Path):
        self.root = Path(root)

    def launch(self, request: LaunchRequest) -> RunRecord:
        """Check the approval itself (no state file stands in for it), take the snapshot of exactly the approved
        bytes, then start the run from it."""
        from exprun.gate import approval as gate
        from exprun.trust import snapshot

        if gate.require_current(request.slug, request.root) != request.approved_hash:
            raise GateError(
                f"{request.slug}: the code changed between the approval check and the launch; "
                f"review it and run `exprun approve {request.slug}` again"
            )
        request.snapshot = snapshot.take(
            request.slug, request.root, Paths(request.slug, request.root).code_dir, request.approved_hash
        )
        record = self._launch(request)
        record.approved_hash, record.run_id, record.snapshot = request.approved_hash, request.run_id, request.snapshot
        return record

    @abstractmethod
    def _launch(self, request: LaunchRequest) -> RunRecord: ...

    @abstractmethod
    def describe(self, record: RunRecord) -> str:
        """Where the run is, for the DEPLOY_REPORT: `local (host GPU 0)`, `slurm (login job 12)`, ..."""

    @abstractmethod
    def state(self, record: RunRecord) -> RunState: ...

    @abstractmethod
    def tail(self, record: RunRecord, start: int) -> str:
        """The end of the current attempt's output (bounded), never before byte `start`."""

    @abstractmethod
    def idle_seconds(self, record: RunRecord, now: float) -> float | None: ...

    @abstractmethod
    def stop(self, record: RunRecord) -> None: ...

    @abstractmethod
    def relaunch(
        self, record: RunRecord, extra_args: list[str], env: dict[str, str] | None = None
    ) -> tuple[RunRecord, int]:
        """The same guarded command plus extra_args (and env's changes, e.g. fewer EXPRUN_TASKS); the fresh
        record and the log offset it starts at."""

    def task_log_tails(self, record: RunRecord) -> dict[str, str]:
        """The end of each task's own log (run.sh writes logs/exp-<slug>.tasks/<arm>_seed<N>.log), by task word;
        {} where the backend cannot read them."""
        return {}

    @abstractmethod
    def fetch_results(self, record: RunRecord) -> None:
        """Bring results/<slug>/ (and the logs) here when the run wrote them elsewhere."""

    def anomalies(self, record: RunRecord) -> list:
        """What the backend itself knows beyond the log and the exit status (SLURM task endings)."""
        return []

    def task_logs(self, record: RunRecord) -> list[Path]:
        """Per-task logs readable here (SLURM array tasks, seed jobs), combined into run_log; [] when the run
        writes run_log itself."""
        return []

    def expect(self, record: RunRecord) -> None:  # noqa: B027 - optional hook, empty on purpose
        """A scan announces the records it will ask about (a remote launcher answers them in one round trip).
        Doing nothing is the right answer for a launcher that asks per record."""

    # What the page, the wiki log and `exprun status` say about a run of this backend (no backend chains elsewhere).

    def require_page(self, page) -> None:  # noqa: B027 - most backends need nothing of the page's layout
        """Refuse, before anything starts, a page this backend cannot record its run on."""

    def page_fields(self, record: RunRecord, started: str) -> dict:
        """The page's own fields for a run of this backend, written with status running."""
        return {}

    def where(self, record: RunRecord) -> str:
        """The wiki log's words for where the run went."""
        return f"env: local | session: {record.session}"

    def label(self, record: RunRecord, state: RunState) -> str:
        """`exprun status`'s words for where a running run is."""
        return f"local ({record.session})"

    def completed_fields(self, record: RunRecord, completed: str) -> dict:
        """The page's own fields written when the run is collected."""
        return {}

    def deployed_marker(self, paths: Paths) -> Path:
        """The file that marks the deploy done for Snakemake."""
        return paths.deployed

    @staticmethod
    def gpu_text(record: RunRecord) -> str:
        return f" GPU {','.join(map(str, record.gpu_ids))}" if record.gpu_ids else ""


@dataclass
class Run:
    """A run and the launcher that answers for it: what collect, status and the automatic fix talk to, never a
    (record, launcher) pair. The record is the handle's own: a relaunch adopts what changed into it."""

    record: RunRecord
    launcher: Launcher

    @property
    def code_is_here(self) -> bool:
        return self.launcher.code_is_here

    @property
    def root(self) -> Path:
        return self.launcher.root

    def state(self) -> RunState:
        return self.launcher.state(self.record)

    def tail(self) -> str:
        """The current attempt's output (bounded)."""
        return self.launcher.tail(self.record, self.record.log_offset)

    def idle_seconds(self, now: float) -> float | None:
        return self.launcher.idle_seconds(self.record, now)

    def anomalies(self) -> list:
        return self.launcher.anomalies(self.record)

    def task_logs(self) -> list[Path]:
        return self.launcher.task_logs(self.record)

    def task_log_tails(self) -> dict[str, str]:
        return self.launcher.task_log_tails(self.record)

    def stop(self) -> None:
        self.launcher.stop(self.record)

    def fetch(self) -> None:
        self.launcher.fetch_results(self.record)

    def label(self, state: RunState) -> str:
        return self.launcher.label(self.record, state)

    def relaunch(self, extra_args: list[str], env: dict[str, str] | None = None) -> int:
        """The same guarded command again (under the same session and run id); adopts the new PID, session, env
        and history into the record and returns the log offset the relaunch starts at."""
        fresh, log_offset = self.launcher.relaunch(self.record, extra_args, env)
        record = self.record
        record.history += [event for event in fresh.history[len(record.history) :] if event.get("event") != "launch"]
        record.pid, record.boot_id, record.env = fresh.pid, fresh.boot_id, fresh.env
        record.session, record.details = fresh.session, fresh.details
        return log_offset


def launcher_class(backend: Backend | str) -> type[Launcher]:
    try:
        module, name = LAUNCHERS[Backend(backend)].split(":")
    except (KeyError, ValueError):
        raise LaunchError(f"run record backend '{backend}' is not known to this version of exprun") from None
    return getattr(importlib.import_module(f"{__package__}.{module}"), name)


def backend_for(settings: Settings) -> Backend:
    """The backend a deploy uses: the settings' env (set by the profile)."""
    return ENVIRONMENTS[settings.env]


class LauncherPool:
    """Launchers shared across many records of one scan: one `screen -ls`, one connection per host."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._launchers: dict[str, Launcher] = {}
        self._sessions: dict[str, object] = {}
        self._stack = contextlib.ExitStack()

    def get(self, record: RunRecord) -> Launcher:
        backend = Backend(record.backend)
        cls: Callable[..., Launcher] = launcher_class(backend)  # each backend's constructor takes its own options
        if backend == Backend.SCREEN:
            key = "local"
            make = lambda: cls(self.root, snapshot=True)  # noqa: E731
        elif backend == Backend.SSH or (backend == Backend.SLURM and record.details.get("via") == "ssh"):
            key = f"{backend.value}@{record.host}"
            make = lambda: cls(self.root, self._connect(record))  # noqa: E731
        else:
            key = backend.value
            make = lambda: cls(self.root)  # noqa: E731
        if key not in self._launchers:
            self._launchers[key] = make()
        return self._launchers[key]

    def run(self, record: RunRecord) -> Run:
        return Run(record, self.get(record))

    def _connect(self, record: RunRecord):
        """One SSH connection per host for the whole scan, from the wiki root's config/server.yaml."""
        from exprun.remote import server_config  # paramiko only for remote runs
        from exprun.remote.session import RemoteSession

        if record.host in self._sessions:
            return self._sessions[record.host]
        server = server_config.of_wiki(self.root)
        if server.host != record.host:
            raise RemoteError(
                f"{record.slug} runs on {record.host} but {server.source} now points at {server.host}; "
                "restore the server entry to check it"
            )
        self._sessions[record.host] = self._stack.enter_context(RemoteSession(server))
        return self._sessions[record.host]

    def rescan(self) -> None:
        """Forget the launchers' answers (a launcher's listing is the moment it was made) and keep the connections:
        the next scan asks afresh over them (`exprun watch` looks every few seconds)."""
        self._launchers.clear()

    def close(self) -> None:
        self._stack.close()


@contextlib.contextmanager
def open_run(record: RunRecord, root: Path) -> Iterator[Run]:
    """The run's handle, its launcher connected for as long as the block runs."""
    with open_launcher(record, root) as launcher:
        yield Run(record, launcher)


@contextlib.contextmanager
def open_launcher(record: RunRecord, root: Path) -> Iterator[Launcher]:
    """The launcher that answers for this record (a remote one holds its connection while open)."""
    pool = LauncherPool(root)
    try:
        yield pool.get(record)
    finally:
        pool.close()


def parallel_tasks(request: LaunchRequest, plan: GpuPlan, free_gpus: Callable[[], int]) -> int:
    """The request's tasks at once by the one rule the gate shows too (gpu_plan.tasks_at_once)."""
    return tasks_at_once(request.settings.parallel, plan, len(request.tasks), free_gpus)
