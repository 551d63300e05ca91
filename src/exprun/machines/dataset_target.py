"""Where the dataset is looked for and fetched: the machine the run will run on, chosen by settings.env.

`local` and SLURM submitted from this login node (`slurm.submit: local`, the compute nodes share its
filesystem) look here, relative paths under the wiki root; `remote` and SLURM submitted over SSH
(`slurm.submit: ssh`) look on the server of config/server.yaml over ONE RemoteSession, relative paths
under its work_dir. Both run the same probe (exprun/dataset_probe.py): in-process here, as
`python3 - <path> '<options>'` with the probe's text on stdin there.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from exprun.core.errors import RemoteError
from exprun.core.settings import Settings
from exprun.machines import dataset_probe

PROBE_TIMEOUT_S = 120
DOWNLOAD_TIMEOUT_S = 24 * 3600
COMMAND_NOT_FOUND = 127
Write = Callable[[bytes], None]


class Target(ABC):
    """One machine's view: `where` (for records and messages), `base` (what relative paths are under)."""

    where = "local"
    place = "this machine"  # how a sentence names it: "runs it on <place>"
    base = ""
    cwd: str  # where run_download runs the command; each target sets it

    @abstractmethod
    def resolve(self, rel: str) -> str:
        """The absolute path of dataset.path on this target."""

    @abstractmethod
    def probe(self, path: str, options: dict | None = None) -> dict:
        """What dataset_probe finds at `path` on this target."""

    @abstractmethod
    def run_download(self, command: str, path: str, write: Write, timeout: float = DOWNLOAD_TIMEOUT_S) -> int:
        """Run the person's dataset.download with EXPRUN_DATASET_PATH=path; its exit status."""

    def copy_hint(self, path: str) -> str:
        return f"cp -r <your copy> {shlex.quote(path)}"


class LocalTarget(Target):
    def __init__(self, root: Path, where: str = "local"):
        self.root = Path(root).resolve()
        self.where, self.base = where, f"the wiki root {self.root}"
        self.place = "this machine" if where == "local" else where
        self.cwd = str(self.root)

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


class RemoteTarget(Target):
    def __init__(self, session, server, label: str):
        self.session, self.server = session, server
        self.work_dir = str(session.work_dir)
        self.where, self.place = f"{label} {server.host}:{self.work_dir}", f"{label} {server.host}"
        self.base, self.cwd = f"work_dir {self.work_dir} on {server.host}", self.work_dir

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


@contextlib.contextmanager
def open_target(settings: Settings, root: Path = Path(".")) -> Iterator[Target]:
    """The target of settings.env, held open for every call inside the block (one SSH connection)."""
    if not settings.on_server:
        where = (
            "local"
            if settings.env != "slurm"
            else f"slurm login node {socket.gethostname()} (this machine, shared filesystem)"
        )
        yield LocalTarget(root, where)
        return
    from exprun.remote import server_config  # paramiko only for remote targets
    from exprun.remote.session import RemoteSession

    server = server_config.of_wiki(root)
    with RemoteSession(server) as session:
        yield RemoteTarget(session, server, "remote" if settings.env == "remote" else "slurm login node")
