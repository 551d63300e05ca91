"""Where the sanity run executes: here, on the remote server, or as a short SLURM job — the machine the real
run will use, so it catches what differs there (its environment, its GPU, its data).

Every target runs a command from the wiki root *on that machine* and answers (exit code or None when it
timed out, output); `fetch` brings the sanity results folder back here, where the same checks read it.
The target is chosen by the profile (settings.env); inside a SLURM job (the slurm-jobs executor placed
the sanity rule on a node already) it runs in place.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import time
from pathlib import Path, PurePosixPath

from exprun.core.settings import Settings
from exprun.machines import gpus

TIMEOUT_CODE = 124  # coreutils `timeout` on the server
VISIBLE = re.compile(r"CUDA_VISIBLE_DEVICES=(\S*)")
NO_GPU = {"CUDA_VISIBLE_DEVICES": ""}  # a page that needs no GPU runs as its deploy will: without one


class LocalTarget:
    here = True  # this machine: its whole environment applies (run_env full)

    def __init__(self, root: Path, settings: Settings):
        self.root, self.settings = Path(root), settings
        self.where = f"local ({os.uname().nodename})"

    def run(self, argv: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, str]:
        try:
            done = subprocess.run(
                argv, cwd=self.root, capture_output=True, text=True, timeout=timeout, env={**os.environ, **env}
            )
            return done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            return None, out + f"\n[exprun] sanity run killed after {timeout:g} s"

    def sync(self, slug: str, snapshot: str, expected_hash: str) -> None:
        """The snapshot is already here."""

    def run_quick(self, argv: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, str]:
        """A short command (the contract's `--help` probe)."""
        return self.run(argv, env, timeout)

    def gpu_view(self, output: str):
        return gpus.query()

    def gpu_env(self, plan) -> dict[str, str]:
        return {} if plan.needed else NO_GPU

    def fetch(self, rel: str) -> None:
        """Results are already here."""


class RemoteTarget:
    """The server of config/server.yaml over one held RemoteSession: code synced and hash-checked first."""

    here = False  # its own environment applies there: only what exprun adds travels

    def __init__(self, root: Path, settings: Settings, session, server):
        self.root, self.settings, self.session, self.server = Path(root), settings, session, server
        self.where = f"remote {server.host}:{session.work_dir}"

    def sync(self, slug: str, snapshot: str, expected_hash: str) -> None:
        from exprun.remote import envsetup, sync  # paramiko only for remote runs

        sync.send_snapshot(self.session, self.root, snapshot, expected_hash, self.server)
        envsetup.setup_env(self.session, self.server, slug, requirements_file=f"{snapshot}/requirements.txt")

    def run(self, argv: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, str]:
        from exprun.remote import envsetup

        command = envsetup.wrap(
            [
                "env",
                *(f"{k}={v}" for k, v in env.items()),
                "timeout",
                "--kill-after=10",
                f"{max(int(timeout), 1)}",
                *argv,
            ],
            self.server,
            self.session,
        )
        line = f"cd {shlex.quote(str(self.session.work_dir))} && {shlex.join(command)}"
        code, out, _ = self.session.run(line, timeout=timeout + 30, merge_stderr=True)
        if code == TIMEOUT_CODE:
            return None, out + f"\n[exprun] sanity run killed on {self.server.host} after {timeout:g} s"
        return code, out

    def run_quick(self, argv: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, str]:
        return self.run(argv, env, timeout)

    def gpu_view(self, output: str):
        from exprun.machines import remote_gpus

        return remote_gpus.query(self.session)

    def gpu_env(self, plan) -> dict[str, str]:
        """A free GPU of the server for the sanity run (none free: the GPU check then says which are busy)."""
        if not plan.needed:
            return NO_GPU
        free = self.gpu_view("").free(self.server.free_gpu_threshold_mib)
        return {"CUDA_VISIBLE_DEVICES": ",".join(str(g.index) for g in free[: plan.count])} if free else {}

    def fetch(self, rel: str) -> None:
        from exprun.remote import pull

        pull.pull_if_present(self.session, rel.rstrip("/") + "/", self.root)


class SlurmTarget:
    """A short sbatch job with the task's resources, waited for with the deploy's state logic; through SSH
    when slurm.submit is ssh (code synced there first), else on this login node (shared filesystem)."""

    here = False

    def __init__(self, root: Path, settings: Settings, slug: str, plan, remote: RemoteTarget | None = None):
        from exprun.machines.launchers import slurm

        self.root, self.settings, self.slug, self.plan, self.remote = Path(root), settings, slug, plan, remote
        self.runner = slurm.ssh_runner(remote.session) if remote else slurm.local_runner
        self.where = f"slurm ({remote.server.host if remote else os.uname().nodename})"

    def sync(self, slug: str, snapshot: str, expected_hash: str) -> None:
        if self.remote:
            self.remote.sync(slug, snapshot, expected_hash)

    def run_quick(self, argv: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, str]:
        """On the login node (it shares the filesystem and the environment setup): no queue for `--help`."""
        if self.remote:
            return self.remote.run(argv, env, timeout)
        return LocalTarget(self.root, self.settings).run(argv, env, timeout)

    def run(self, argv: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, str]:
        from exprun.core.paths import Paths
        from exprun.machines.launchers import slurm
        from exprun.machines.launchers.base import RunSpec
        from exprun.machines.launchers.slurm_script import task_log

        remote_root = self.remote.session.work_dir if self.remote else self.root.resolve()
        paths = Paths(self.slug, Path(str(remote_root)))
        resources = {**self.settings.slurm.resources(), "time": self.settings.sanity.slurm_time}
        if self.plan.needed and not resources["gpus"]:
            resources["gpus"] = self.plan.count
        folder = paths.sanity_results.parent
        spec = RunSpec(
            f"{self.slug}-sanity",
            list(argv),
            Path(str(remote_root)),
            folder / "slurm.log",
            folder / "slurm_exit",
            dict(env),
        )
        self.runner(["rm", "-f", "--", task_log(spec, 0)])  # SLURM appends: never an earlier job's output
        # one array task running every task word of the sanity run (EXPRUN_TASKS, word-split by run.sh)
        record = slurm.launch(
            spec, [env.get("EXPRUN_TASKS") or env.get("EXPRUN_SEEDS", "0")], resources, self.runner, host=self.where
        )
        deadline = time.monotonic() + timeout + self.settings.sanity.queue_wait_s
        state = slurm.job_state(slurm.task_states(record, self.runner))
        while state.alive and time.monotonic() < deadline:
            time.sleep(2)
            state = slurm.job_state(slurm.task_states(record, self.runner))
        log = task_log(record, 0)
        output = self._read(log)
        header = f"[exprun] sanity job {record.session} on {self.where}: {state.detail or state.state.value}\n"
        if state.alive:
            slurm.stop(record, self.runner)
            return (
                None,
                header + output + f"\n[exprun] sanity job cancelled: not ended within {timeout:g} s "
                f"+ {self.settings.sanity.queue_wait_s:g} s of queue wait",
            )
        return state.exit_code, header + output

    def _read(self, log: str) -> str:
        if self.remote:
            from exprun.machines.launchers import ssh

            return ssh.read_tail(self.remote.session, PurePosixPath(log), 1 << 20)
        try:
            return Path(log).read_text(errors="replace")
        except OSError as exc:
            return f"[exprun] no job log at {log}: {exc.strerror}"

    def gpu_view(self, output: str) -> gpus.GPUView:
        """The job's own view: the CUDA_VISIBLE_DEVICES SLURM gave it (its batch script prints it)."""
        found = VISIBLE.findall(output)
        given = found[0] if found else "<unset>"
        if given in ("<unset>", "", "NoDevFiles"):
            return gpus.GPUView(
                [],
                f"the sanity job ran with CUDA_VISIBLE_DEVICES={given}: SLURM gave it no GPU "
                "(set slurm.gpus, or the page's setup.hardware)",
            )
        return gpus.GPUView(
            [
                gpus.GPU(int(i) if i.isdigit() else n, f"assigned by SLURM ({i})", 0, 0, 0)
                for n, i in enumerate(given.split(","))
            ]
        )

    def gpu_env(self, plan) -> dict[str, str]:
        return {}  # SLURM assigns the job's GPUs (gres)

    def fetch(self, rel: str) -> None:
        if self.remote:
            self.remote.fetch(rel)


@contextlib.contextmanager
def open_target(root: Path, settings: Settings, slug: str, plan):
    """The target for this profile, holding its SSH connection while open."""
    inside_slurm_job = bool(os.environ.get("SLURM_JOB_ID"))
    if settings.env == "local" or (settings.env == "slurm" and inside_slurm_job):
        yield LocalTarget(root, settings)
        return
    if not settings.on_server:  # SLURM submitted from this login node
        yield SlurmTarget(root, settings, slug, plan)
        return
    from exprun.remote import server_config  # paramiko only for remote runs
    from exprun.remote.session import RemoteSession

    server = server_config.of_wiki(root)
    with RemoteSession(server) as session:
        remote = RemoteTarget(root, settings, session, server)
        yield SlurmTarget(root, settings, slug, plan, remote) if settings.env == "slurm" else remote
