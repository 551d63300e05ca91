"""One object per kind of run, so collect, status and the automatic fix never ask where a run lives.

A backend answers for a RunRecord: its state, the tail of its current attempt's
log, how long the log has been quiet, how to stop it, how to relaunch it with
extra train.py arguments, and how to bring its results home. `open_backend`
picks one from the record and holds any connection it needs for its duration.
"""

from __future__ import annotations

import contextlib
from pathlib import Path, PurePosixPath
from typing import Iterator, Protocol

from ..errors import LaunchError, RemoteError
from ..logtail import TAIL_BYTES, seconds_since_write, tail_text
from ..state import PATTERNS, Paths
from . import screen
from .base import RunRecord, RunSpec, RunState


class Backend(Protocol):
    def state(self, record: RunRecord) -> RunState: ...
    def tail(self, record: RunRecord, start: int) -> str: ...
    def idle_seconds(self, record: RunRecord, now: float) -> float | None: ...
    def stop(self, record: RunRecord) -> None: ...
    def relaunch(self, record: RunRecord, extra_args: list[str]) -> tuple[RunRecord, int]: ...
    def fetch_results(self, record: RunRecord) -> None: ...
    def anomalies(self, record: RunRecord) -> list: ...


class LocalScreen:
    """Runs on this machine under GNU screen; `snapshot=True` lists sessions once for many records."""

    code_is_here = True  # the code folder the run executes is this machine's

    def __init__(self, root: Path, snapshot: bool = False):
        self.root = Path(root)
        self._sessions = screen.sessions() if snapshot else None

    def state(self, record: RunRecord) -> RunState:
        return screen.state(record, self._sessions)

    def tail(self, record: RunRecord, start: int) -> str:
        return tail_text(Path(record.log), start=start)

    def idle_seconds(self, record: RunRecord, now: float) -> float | None:
        return seconds_since_write(Path(record.log), now)

    def stop(self, record: RunRecord) -> None:
        screen.stop(record)

    def relaunch(self, record: RunRecord, extra_args: list[str]) -> tuple[RunRecord, int]:
        """A fresh launch of the same command plus extra_args; returns it and the log offset it starts at."""
        spec = RunSpec(record.slug, [*record.command, *extra_args], Path(record.cwd), Path(record.log),
                       Path(record.exit_file), dict(record.env))
        offset = spec.log.stat().st_size if spec.log.exists() else 0
        return screen.launch(spec), offset

    def fetch_results(self, record: RunRecord) -> None:
        """Results are already here."""

    def anomalies(self, record: RunRecord) -> list:
        """Nothing beyond what the log and the exit status say."""
        return []


class RemoteScreen:
    """Runs on the remote server under screen, answered over one held SSH session."""

    code_is_here = False

    def __init__(self, session, root: Path):
        from . import ssh  # noqa: PLC0415 - paramiko is imported only when a remote run is touched

        self.ssh = ssh
        self.session = session
        self.root = Path(root)
        self._expected: dict[str, RunRecord] = {}
        self._seen: dict[str, tuple[RunState, float | None]] = {}

    def expect(self, record: RunRecord) -> None:
        """Announce a record the scan will ask about, so one round trip answers for all of them."""
        self._expected[record.slug] = record

    def _snapshot(self, record: RunRecord) -> tuple[RunState, float | None]:
        if record.slug not in self._seen:
            self._expected[record.slug] = record
            self._seen.update(self.ssh.snapshot(list(self._expected.values()), self.session))
            self._expected.clear()
        return self._seen[record.slug]

    def state(self, record: RunRecord) -> RunState:
        return self._snapshot(record)[0]

    def tail(self, record: RunRecord, start: int) -> str:
        return self.ssh.tail(record, self.session, start=start)

    def idle_seconds(self, record: RunRecord, now: float) -> float | None:
        """By the server's clock (a skewed local clock must not look like a stall)."""
        return self._snapshot(record)[1]

    def stop(self, record: RunRecord) -> None:
        self.ssh.stop(record, self.session)
        self._seen.pop(record.slug, None)

    def relaunch(self, record: RunRecord, extra_args: list[str]) -> tuple[RunRecord, int]:
        """The same (environment-wrapped) command plus extra_args: the wrapper passes every argument through."""
        spec = RunSpec(record.slug, [*record.command, *extra_args], PurePosixPath(record.cwd), PurePosixPath(record.log),
                       PurePosixPath(record.exit_file), dict(record.env))
        fresh = self.ssh.launch(spec, self.session)
        self._seen.pop(record.slug, None)
        return fresh, int(fresh.history[-1].get("log_offset", 0))

    def fetch_results(self, record: RunRecord) -> None:
        """Bring results/<slug>/ and the log home (resumable; weights stay on the server)."""
        from ..remote import pull  # noqa: PLC0415 - paramiko only when a remote run is collected

        paths = Paths(record.slug, self.root)
        results = paths.results_dir.relative_to(self.root).as_posix()
        try:
            pull.pull(self.session, results + "/", results + "/", self.root)
        except RemoteError as exc:
            if "does not exist" not in str(exc):
                raise
        pull.pull(self.session, PurePosixPath(record.log).as_posix(), paths.log.relative_to(self.root).as_posix(), self.root)

    def anomalies(self, record: RunRecord) -> list:
        return []


class SlurmArray:
    """A job array on a SLURM cluster: one task per seed. Seen from a login node with the shared
    filesystem (session None), or from here through a RemoteSession to the login node."""

    def __init__(self, root: Path, session=None):
        from . import slurm, slurm_script, ssh  # noqa: PLC0415

        self.slurm, self.slurm_script, self.ssh = slurm, slurm_script, ssh
        self.root = Path(root)
        self.session = session
        self.runner = slurm.ssh_runner(session) if session is not None else slurm.local_runner
        self.code_is_here = session is None  # a login node shares the code folder with the compute nodes
        self._tasks: dict = {}

    def state(self, record: RunRecord) -> RunState:
        """Unknown (sacct and squeue silent) counts as still running: check again later, never finish on it."""
        self._tasks = self.slurm.task_states(record, self.runner)
        judged = self.slurm.job_state(self._tasks)
        if judged.state == self.slurm.UNKNOWN:
            return RunState("running", None, judged.detail)
        return judged

    def _logs(self, record: RunRecord) -> list[str]:
        return [self.slurm_script.task_log(record, index) for index in self.slurm.task_owners(record)]

    def tail(self, record: RunRecord, start: int) -> str:
        """The end of every task's log (each bounded), task by task."""
        logs = self._logs(record)
        share = max(TAIL_BYTES // max(len(logs), 1), 4096)
        if self.session is not None:
            return "\n".join(self.ssh.read_tail(self.session, PurePosixPath(log), share) for log in logs)
        return "\n".join(tail_text(Path(log), share) for log in logs)

    def idle_seconds(self, record: RunRecord, now: float) -> float | None:
        if self.session is not None:
            ages = [self.ssh.seconds_since_write(self.session, PurePosixPath(log)) for log in self._logs(record)]
        else:
            ages = [seconds_since_write(Path(log), now) for log in self._logs(record)]
        ages = [age for age in ages if age is not None]
        return min(ages) if ages else None

    def stop(self, record: RunRecord) -> None:
        self.slurm.stop(record, self.runner)

    def relaunch(self, record: RunRecord, extra_args: list[str]) -> tuple[RunRecord, int]:
        """Resubmit only the failed tasks; when none failed (a NaN in a live task), every task."""
        tasks = self._tasks or self.slurm.task_states(record, self.runner)
        failed = self.slurm.failed_tasks(tasks) or list(self.slurm.task_owners(record))
        return self.slurm.resubmit_failed(record, self.runner, failed, extra_args), 0

    def fetch_results(self, record: RunRecord) -> None:
        """On a login node the results are already here; through SSH, pull them and the task logs."""
        if self.session is None:
            return
        from ..remote import pull  # noqa: PLC0415

        results = Paths(record.slug, self.root).results_dir.relative_to(self.root).as_posix()
        try:
            pull.pull(self.session, results + "/", results + "/", self.root)
        except RemoteError as exc:
            if "does not exist" not in str(exc):
                raise
        for log in self._logs(record):
            local = Paths(record.slug, self.root).log.parent / PurePosixPath(log).name
            pull.pull(self.session, log, str(local), self.root)

    def anomalies(self, record: RunRecord) -> list:
        """Per-task endings (exit codes, OUT_OF_MEMORY, TIMEOUT, ...) naming the task and its seed."""
        return self.slurm.anomalies_from_tasks(self._tasks)


class SeedJobs:
    """Seeds run as Snakemake jobs (full_via: jobs): Snakemake owns them; exprun only reads what they left."""

    supports_autofix = False  # a rerun is `snakemake full_<slug>` again: Snakemake reruns the missing seeds
    code_is_here = True

    def __init__(self, root: Path):
        self.root = Path(root)

    def _seeds(self, record: RunRecord) -> list[str]:
        return record.env.get("EXPRUN_SEEDS", "0").split()

    def _log(self, record: RunRecord, seed: str) -> Path:
        return self.root / PATTERNS["seed_log"].format(slug=record.slug, seed=seed)

    def state(self, record: RunRecord) -> RunState:
        """Ended: every seed's result file there (exit 0), else the seeds whose job did not deliver."""
        results = Paths(record.slug, self.root).results_dir
        missing = [seed for seed in self._seeds(record) if not (results / f"seed_{seed}.json").exists()]
        if not missing:
            return RunState("exited", 0, "all seed jobs delivered their results")
        return RunState("exited", 1, f"seed job(s) {', '.join(missing)} left no result (see their logs)")

    def tail(self, record: RunRecord, start: int) -> str:
        seeds = self._seeds(record)
        share = max(TAIL_BYTES // max(len(seeds), 1), 4096)
        return "\n".join(tail_text(self._log(record, seed), share) for seed in seeds)

    def idle_seconds(self, record: RunRecord, now: float) -> float | None:
        return None

    def stop(self, record: RunRecord) -> None:
        """Snakemake (or the cluster's scheduler) owns the jobs."""

    def relaunch(self, record: RunRecord, extra_args: list[str]) -> tuple[RunRecord, int]:
        raise LaunchError(f"{record.slug}: seed jobs are rerun by Snakemake: run `snakemake full_{record.slug}` again")

    def fetch_results(self, record: RunRecord) -> None:
        """Snakemake placed the outputs here."""

    def anomalies(self, record: RunRecord) -> list:
        return []


class BackendPool:
    """Backends shared across many records of one scan: one `screen -ls`, one connection per host."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._backends: dict[str, Backend] = {}
        self._sessions: dict[str, object] = {}
        self._stack = contextlib.ExitStack()

    def get(self, record: RunRecord) -> Backend:
        if record.backend == "screen":
            if "local" not in self._backends:
                self._backends["local"] = LocalScreen(self.root, snapshot=True)
            return self._backends["local"]
        if record.backend == "jobs":
            return self._backends.setdefault("jobs", SeedJobs(self.root))
        if record.backend == "slurm":
            key = f"slurm@{record.host}" if record.env.get("EXPRUN_SLURM_VIA") == "ssh" else "slurm"
            if key not in self._backends:
                session = self._connect(record) if key != "slurm" else None
                self._backends[key] = SlurmArray(self.root, session)
            return self._backends[key]
        if record.backend == "ssh":
            if record.host not in self._backends:
                self._backends[record.host] = RemoteScreen(self._connect(record), self.root)
            return self._backends[record.host]
        raise LaunchError(f"run record backend '{record.backend}' is not known to this version of exprun")

    def _connect(self, record: RunRecord):
        """One SSH connection per host for the whole scan, from the wiki root's config/server.yaml."""
        from ..remote import server_config  # noqa: PLC0415 - paramiko only for remote runs
        from ..remote.session import RemoteSession  # noqa: PLC0415

        if record.host in self._sessions:
            return self._sessions[record.host]
        server = server_config.load(server_config.config_path(self.root, None), self.root)
        if server.host != record.host:
            raise RemoteError(f"{record.slug} runs on {record.host} but {server.source} now points at {server.host}; "
                              "restore the server entry to check it")
        self._sessions[record.host] = self._stack.enter_context(RemoteSession(server))
        return self._sessions[record.host]

    def close(self) -> None:
        self._stack.close()


@contextlib.contextmanager
def open_backend(record: RunRecord, root: Path) -> Iterator[Backend]:
    """The backend that answers for this record (a remote one holds its connection while open)."""
    if record.backend == "screen":
        yield LocalScreen(root)
        return
    pool = BackendPool(root)
    try:
        yield pool.get(record)
    finally:
        pool.close()
