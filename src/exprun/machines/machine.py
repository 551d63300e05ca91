"""The machine a run will run on — here, the server of config/server.yaml, or a SLURM cluster — chosen once
from the settings (`open_machine`) and used by every step that must happen there: the dataset check (resolve,
probe, download), the run contract's `--help` probe and the sanity run (sync, run, GPUs, fetch back).

`local` looks here, relative paths under the wiki root. `remote` works on the server over ONE RemoteSession,
relative paths under its work_dir; the code is synced and hash-checked first. SLURM submitted from this login
node (the compute nodes share its filesystem) or over SSH (`slurm.submit: ssh`) is a Cluster: the dataset is
looked for and short commands run on its login machine, the sanity run is a short sbatch job waited for with
the deploy's state logic. Inside a SLURM job (the slurm-jobs executor already placed the step on a node) the
step runs in place. The dataset probe (dataset_probe.py) is the same code everywhere: in-process here, as
`python3 - <path> '<options>'` with the probe's text on stdin on the server.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from exprun.core.errors import RemoteError
from exprun.core.settings import Settings
from exprun.machines import dataset_probe, env_needs, gpus

PROBE_TIMEOUT_S = 120
DOWNLOAD_TIMEOUT_S = 24 * 3600
COMMAND_NOT_FOUND = 127
TIMEOUT_CODE = 124  # coreutils `timeout` on the server
VISIBLE = re.compile(r"CUDA_VISIBLE_DEVICES=(\S*)")
NO_GPU = {"CUDA_VISIBLE_DEVICES": ""}  # a page that needs no GPU runs as its deploy will: without one
Write = Callable[[bytes], None]


class Machine(ABC):
    """One place a run can run. `where` names it in sanity.json, `data_where` in dataset.json; `place` in a
    sentence ("runs it on <place>"); `base` is what relative dataset paths are under; `cwd` where a download runs;
    `here`: this machine, so its whole environment applies (elsewhere only what exprun adds travels)."""

    here = False
    where = "local"
    data_where = "local"
    place = "this machine"
    base = ""
    cwd = ""

    def __init__(self, root: Path, settings: Settings | None = None):
        self.root, self.settings = Path(root), settings or Settings()

    # -- the dataset check

    @abstractmethod
    def resolve(self, rel: str) -> str:
        """The absolute path of dataset.path on this machine."""

    @abstractmethod
    def probe(self, path: str, options: dict | None = None) -> dict:
        """What dataset_probe finds at `path` on this machine."""

    @abstractmethod
    def run_download(self, command: str, path: str, write: Write, timeout: float = DOWNLOAD_TIMEOUT_S) -> int:
        """Run the person's dataset.download with EXPRUN_DATASET_PATH=path; its exit status."""

    def copy_hint(self, path: str) -> str:
        return f"cp -r <your copy> {shlex.quote(path)}"

    # -- commands: the contract's probe and the sanity run

    @abstractmethod
    def run(self, argv: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, str]:
        """Run a command from the wiki root there: (exit code, or None when it timed out; its output)."""

    def run_quick(self, argv: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, str]:
        """A short command (the contract's `--help` probe)."""
        return self.run(argv, env, timeout)

    def sync(self, slug: str, snapshot: str, expected_hash: str) -> None:  # noqa: B027 - here: already there
        """Bring the snapshot there (hash-checked)."""

    @abstractmethod
    def gpu_view(self, output: str) -> gpus.GPUView: ...

    @abstractmethod
    def gpu_env(self, plan) -> dict[str, str]: ...

    def fetch(self, rel: str) -> None:  # noqa: B027 - here: already here
        """Bring a folder of results back here."""

    def check_env(self, needs: list[env_needs.EnvNeed]) -> env_needs.EnvCheck:
        """Which of the variables the code reads are set where the run will start (names only, never values)."""
        return env_needs.check_local(needs)


class Here(Machine):
    here = True

    def __init__(self, root: Path, settings: Settings | None = None):
        super().__init__(Path(root).resolve(), settings)
        self.where = f"local ({os.uname().nodename})"
        if self.settings.env == "slurm":
            self.data_where = f"slurm login node {socket.gethostname()} (this machine, shared filesystem)"
            self.place = self.data_where
        self.base, self.cwd = f"the wiki root {self.root}", str(self.root)

    def resolve(self, rel: str) -> str:
        given = Path(rel).expanduser()
        return os.path.abspath(given if given.is_absolute() else self.root / given)

    def probe(self, path: str, options: dict | None = None) -> dict:
        return dataset_probe.probe(path, options)

    def run_download(self, command: str, path: str, write: Write, timeout: float = DOWNLOAD_TIMEOUT_S) -> int:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "EXPRUN_DATASET_PATH": path}
        with subprocess.Popen(
            ["bash", "-c", command],
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        ) as process:
            stdout = process.stdout
            assert stdout is not None  # stdout=PIPE
            for chunk in iter(lambda: os.read(stdout.fileno(), 65536), b""):
                write(chunk)
            return process.wait()

    def run(self, argv: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, str]:
        try:
            done = subprocess.run(
                argv, cwd=self.root, capture_output=True, text=True, timeout=timeout, env={**os.environ, **env}
            )
            return done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            return None, out + f"\n[exprun] sanity run killed after {timeout:g} s"

    def gpu_view(self, output: str):
        return gpus.query()

    def gpu_env(self, plan) -> dict[str, str]:
        return {} if plan.needed else NO_GPU


class Server(Machine):
    """The server of config/server.yaml over one held RemoteSession."""

    def __init__(self, root: Path, settings: Settings | None, session, server, label: str = "remote"):
        super().__init__(root, settings)
        self.session, self.server = session, server
        self.work_dir = str(session.work_dir)
        self.where = f"remote {server.host}:{self.work_dir}"
        self.data_where, self.place = f"{label} {server.host}:{self.work_dir}", f"{label} {server.host}"
        self.base, self.cwd = f"work_dir {self.work_dir} on {server.host}", self.work_dir

    def check_env(self, needs: list[env_needs.EnvNeed]) -> env_needs.EnvCheck:
        return env_needs.check_remote(needs, self.session, self.server)

    def resolve(self, rel: str) -> str:
        text = str(rel)
        if text == "~" or text.startswith("~/"):
            return str(self.session.remote_path(text))
        return str(self.session.in_work_dir(text))

    def probe(self, path: str, options: dict | None = None) -> dict:
        from exprun.remote import envsetup  # paramiko only for remote targets

        source = Path(dataset_probe.__file__).read_text(encoding="utf-8")
        argv = ["python3", "-", path, json.dumps(options or {})]
        code, out, err = self.session.run(argv, timeout=PROBE_TIMEOUT_S, input=source)
        if code == COMMAND_NOT_FOUND and envsetup.activation(self.server, self.session).strip():
            code, out, err = self.session.run(
                envsetup.wrap(argv, self.server, self.session), timeout=PROBE_TIMEOUT_S, input=source
            )
        answer = out.strip().splitlines()[-1] if out.strip() else ""
        try:
            found = json.loads(answer) if code == 0 else None
        except ValueError:
            found = None
        if not isinstance(found, dict):
            why = (err.strip() or out.strip() or f"exit status {code}").splitlines()[-1][:300]
            raise RemoteError(
                f"the dataset probe could not run on {self.session.label} ({why}); check that python3 "
                f"runs there: `exprun remote status` (config/server.yaml env_setup/conda enter its environment)"
            )
        return found

    def run_download(self, command: str, path: str, write: Write, timeout: float = DOWNLOAD_TIMEOUT_S) -> int:
        from exprun.remote import envsetup

        argv = [
            "env",
            f"EXPRUN_DATASET_PATH={path}",
            *envsetup.wrap(["bash", "-c", command], self.server, self.session),
        ]
        parent = str(PurePosixPath(path).parent)
        line = (
            f"mkdir -p {shlex.quote(self.work_dir)} {shlex.quote(parent)} && cd {shlex.quote(self.work_dir)} "
            f"&& {shlex.join(argv)} </dev/null"
        )
        return self.session.run_streaming(line, write, timeout=timeout)

    def copy_hint(self, path: str) -> str:
        port = f"-P {self.server.port} " if self.server.port != 22 else ""
        return f"scp -r {port}<your copy> {shlex.quote(f'{self.server.user}@{self.server.host}:{path}')}"

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


class Cluster(Machine):
    """A SLURM cluster: the sanity run is a short sbatch job with the task's resources; the dataset check and
    short commands happen on its login machine (this one, with the shared filesystem, or a Server over SSH,
    where the code is synced first)."""

    def __init__(self, root: Path, settings: Settings, slug: str, plan, login: Here | Server):
        from exprun.machines.launchers import slurm

        super().__init__(root, settings)
        self.slug, self.plan, self.login = slug, plan, login
        self.remote = login if isinstance(login, Server) else None
        self.runner = slurm.ssh_runner(self.remote.session) if self.remote else slurm.local_runner
        self.where = f"slurm ({self.remote.server.host if self.remote else os.uname().nodename})"
        self.data_where, self.place, self.base, self.cwd = login.data_where, login.place, login.base, login.cwd

    def resolve(self, rel: str) -> str:
        return self.login.resolve(rel)

    def probe(self, path: str, options: dict | None = None) -> dict:
        return self.login.probe(path, options)

    def run_download(self, command: str, path: str, write: Write, timeout: float = DOWNLOAD_TIMEOUT_S) -> int:
        return self.login.run_download(command, path, write, timeout)

    def copy_hint(self, path: str) -> str:
        return self.login.copy_hint(path)

    def check_env(self, needs: list[env_needs.EnvNeed]) -> env_needs.EnvCheck:
        return self.login.check_env(needs)  # the jobs start from the login machine's environment

    def sync(self, slug: str, snapshot: str, expected_hash: str) -> None:
        if self.remote:
            self.remote.sync(slug, snapshot, expected_hash)

    def run_quick(self, argv: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, str]:
        """On the login node (it shares the filesystem and the environment setup): no queue for `--help`."""
        if self.remote:
            return self.remote.run(argv, env, timeout)
        return Here(self.root, self.settings).run(argv, env, timeout)

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
def open_machine(settings: Settings, root: Path = Path("."), slug: str = "", plan=None) -> Iterator[Machine]:
    """The machine of settings.env, held open for every call inside the block (one SSH connection)."""
    if settings.env == "local" or (settings.env == "slurm" and os.environ.get("SLURM_JOB_ID")):
        yield Here(root, settings)
        return
    if not settings.on_server:  # SLURM submitted from this login node
        yield Cluster(root, settings, slug, plan, Here(root, settings))
        return
    from exprun.remote import server_config  # paramiko only for remote machines
    from exprun.remote.session import RemoteSession

    server = server_config.of_wiki(root)
    with RemoteSession(server) as session:
        label = "remote" if settings.env == "remote" else "slurm login node"
        remote = Server(root, settings, session, server, label)
        yield Cluster(root, settings, slug, plan, remote) if settings.env == "slurm" else remote
