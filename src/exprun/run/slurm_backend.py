"""Backend `slurm`: one sbatch job array per run, one task per seed, submitted on this login node or
(slurm.submit: ssh) on the server of config/server.yaml after syncing the approved code there."""

from __future__ import annotations

import dataclasses
from pathlib import Path, PurePosixPath

from exprun.core.paths import Paths
from exprun.logs.logtail import seconds_since_write, tail_text, task_share
from exprun.machines import env_needs
from exprun.machines.launchers import slurm
from exprun.machines.launchers.base import RunRecord, RunState, RunStatus
from exprun.machines.launchers.slurm_script import task_log
from exprun.prepare.gpu_plan import gpu_plan
from exprun.run.backends import Backend, Launcher, LaunchRequest


def _ssh():
    """The SSH launcher primitives (paramiko behind them): imported only for a cluster reached through SSH, so a
    collect or a status on the login node does not pay for them."""
    from exprun.machines.launchers import ssh

    return ssh


class SlurmArray(Launcher):
    """Seen from a login node with the shared filesystem (session None), or through a RemoteSession."""

    backend = Backend.SLURM
    sanity_place = "slurm"
    supports_task_reruns = True

    def __init__(self, root: Path, session=None):
        super().__init__(root)
        self.session = session
        self.runner = slurm.ssh_runner(session) if session is not None else slurm.local_runner
        self._tasks: dict = {}
        self._expected: dict[str, RunRecord] = {}  # announced by a scan, not yet asked about
        self._known: slurm.Accounting | None = None
        self._unread: set[str] = set()

    @property  # a login node shares the code folder with the compute nodes
    def code_is_here(self) -> bool:  # type: ignore[override]  # the base's class flag, here decided per instance
        return self.session is None

    def _launch(self, request: LaunchRequest) -> RunRecord:
        resources = request.settings.slurm.resources()
        submit = request.settings.slurm.submit
        plan = gpu_plan(request.page, Paths(request.slug, self.root).code_dir, request.settings.gpu.count)
        if plan.needed and not resources["gpus"]:
            resources["gpus"] = plan.count
        needs = env_needs.scan(Paths(request.slug, self.root).code_dir, request.config)
        if submit == "local":  # sbatch passes the login node's environment on to the job
            env_needs.require(env_needs.check_local(needs), request.slug, remote=False)
            return slurm.launch(request.run_spec(), request.tasks, resources, slurm.local_runner)
        from exprun.remote import envsetup, server_config, sync  # paramiko only for remote submits
        from exprun.remote.session import RemoteSession

        server = server_config.of_wiki(self.root)
        with RemoteSession(server) as session:
            env_needs.require(env_needs.check_remote(needs, session, server), request.slug, remote=True)
            sync.send_snapshot(session, self.root, request.snapshot, request.approved_hash, server)
            envsetup.setup_env(session, server, request.slug, requirements_file=f"{request.snapshot}/requirements.txt")
            command = envsetup.wrap(request.command("python3"), server, session)
            spec = _ssh().run_spec(request.slug, command, session.work_dir, request.run_env(session.work_dir))
            record = slurm.launch(spec, request.tasks, resources, slurm.ssh_runner(session), host=server.host)
        record.details["via"] = "ssh"
        return record

    def where(self, record: RunRecord) -> str:
        return f"env: slurm | cluster: {record.host} | job: {record.session}"

    def label(self, record: RunRecord, state: RunState) -> str:
        return f"slurm (job {record.session}: {state.detail or 'running'})"

    def describe(self, record: RunRecord) -> str:
        return f"slurm ({record.host} job {record.session})"

    def expect(self, record: RunRecord) -> None:
        self._expected[record.slug] = record

    def _accounting(self, record: RunRecord) -> slurm.Accounting | None:
        """One sacct (and squeue) query for every run a scan announced, asked when the first of them is read;
        each run's answer is used once (a later look at the same run asks again, as a wait loop must)."""
        if record.slug in self._expected:
            runs = list(self._expected.values())
            self._expected.clear()
            wanted = [key for run in runs for key in slurm.record_jobs(run)]
            self._known = slurm.accounting({job for job, _ in wanted}, self.runner, wanted)
            self._unread = {run.slug for run in runs}
        if record.slug in self._unread:
            self._unread.discard(record.slug)
            return self._known
        return None

    def state(self, record: RunRecord) -> RunState:
        """Unknown (sacct and squeue silent) counts as still running: check again later, never finish on it."""
        self._tasks = slurm.task_states(record, self.runner, self._accounting(record))
        judged = slurm.job_state(self._tasks)
        if judged.state == RunStatus.UNKNOWN:
            return RunState(RunStatus.RUNNING, None, judged.detail)
        return judged

    def _logs(self, record: RunRecord) -> list[str]:
        return [task_log(record, index) for index in slurm.task_owners(record)]

    def task_logs(self, record: RunRecord) -> list[Path]:
        """Each task's log: where it is on a login node, or its copy in logs/ once fetched through SSH."""
        if record.details.get("via") != "ssh":
            return [Path(log) for log in self._logs(record)]
        return [Paths(record.slug, self.root).log.parent / PurePosixPath(log).name for log in self._logs(record)]

    def tail(self, record: RunRecord, start: int) -> str:
        """The end of every task's log (each bounded), task by task."""
        logs = self._logs(record)
        share = task_share(len(logs))
        if self.session is not None:
            return "\n".join(_ssh().read_tail(self.session, PurePosixPath(log), share) for log in logs)
        return "\n".join(tail_text(Path(log), share) for log in logs)

    def idle_seconds(self, record: RunRecord, now: float) -> float | None:
        if self.session is not None:
            ages = [_ssh().seconds_since_write(self.session, PurePosixPath(log)) for log in self._logs(record)]
        else:
            ages = [seconds_since_write(Path(log), now) for log in self._logs(record)]
        known = [age for age in ages if age is not None]
        return min(known) if known else None

    def stop(self, record: RunRecord) -> None:
        slurm.stop(record, self.runner)

    def relaunch(
        self, record: RunRecord, extra_args: list[str], env: dict[str, str] | None = None
    ) -> tuple[RunRecord, int]:
        """Resubmit the tasks env's EXPRUN_TASKS names (by array index, the rest of env exported to them), else
        the failed ones; when none failed (a NaN in a live task), every task."""
        env = dict(env or {})
        chosen = env.pop("EXPRUN_TASKS", "").split()
        if chosen:
            words = slurm.submissions(record)[0]["seeds"]
            indices = [words.index(task) for task in chosen if task in words]
            return slurm.resubmit_failed(
                dataclasses.replace(record, env={**record.env, **env}), self.runner, indices, extra_args
            ), 0
        tasks = self._tasks or slurm.task_states(record, self.runner)
        failed = slurm.failed_tasks(tasks) or list(slurm.task_owners(record))
        return slurm.resubmit_failed(record, self.runner, failed, extra_args), 0

    def task_log_tails(self, record: RunRecord) -> dict[str, str]:
        """Each array task runs one task word, so its batch log is that task's own log."""
        words = slurm.submissions(record)[0]["seeds"]
        logs = {str(words[index]): task_log(record, index) for index in slurm.task_owners(record) if index < len(words)}
        share = task_share(len(logs))
        if self.session is not None:
            tails = {task: _ssh().read_tail(self.session, PurePosixPath(log), share) for task, log in logs.items()}
        else:
            tails = {task: tail_text(Path(log), share) for task, log in logs.items()}
        return {task: text for task, text in tails.items() if text}

    def fetch_results(self, record: RunRecord) -> None:
        """On a login node the results are already here; through SSH, pull them, the provenance and the task logs."""
        if self.session is None:
            return
        from exprun.remote import pull

        paths = Paths(record.slug, self.root)
        _ssh().pull_run_evidence(self.session, record, self.root)
        for log in self._logs(record):
            pull.pull(self.session, log, str(paths.log.parent / PurePosixPath(log).name), self.root)

    def anomalies(self, record: RunRecord) -> list:
        """Per-task endings (exit codes, OUT_OF_MEMORY, TIMEOUT, ...) naming the task and its seed."""
        return slurm.anomalies_from_tasks(self._tasks)
