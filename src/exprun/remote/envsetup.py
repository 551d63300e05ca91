"""The server's Python environment: how to enter it, and setup-env (pip install when requirements change).

An install takes minutes, so it runs only when the requirements' sha256
differs from the one recorded after the last successful install in
work_dir/.exprun/setup-env/ (or the configured environment changed).
"""

from __future__ import annotations

import hashlib
import json
import shlex
from datetime import datetime, timezone
from pathlib import PurePosixPath

from exprun.core.errors import RemoteError
from exprun.core.paths import Paths
from exprun.remote import transfer
from exprun.remote.server_config import ServerConfig
from exprun.remote.session import RemoteSession

MARKER_DIR = ".exprun/setup-env"
TAIL_LINES = 20
INSTALL_TIMEOUT_S = 3600
# Saves the command's words and clears $@ first: a sourced activate script must not see them
# (conda's bin/activate would take the first word for an environment name).
KEEP_ARGS = 'cmd=("$@"); set --\n'


def activation(server: ServerConfig, session: RemoteSession) -> str:
    """Shell lines entering the configured environment ('' when env_setup is empty)."""
    if server.conda:
        script = shlex.quote(str(session.remote_path(server.conda["path"]) / "bin" / "activate"))
        env = shlex.quote(server.conda["env"])
        return f"source {script} {env} || {{ echo exprun: cannot activate conda env {env} >&2; exit 98; }}"
    if not (server.env_setup or "").strip():
        return ""
    # a setup that fails must stop the command: run outside its environment, it would test the wrong one
    return (
        f'{{\n{server.env_setup}\n}} || {{ echo "exprun: env_setup in config/server.yaml failed (exit status $?); '
        f'nothing was run" >&2; exit 98; }}'
    )


def wrap(argv: list[str], server: ServerConfig, session: RemoteSession) -> list[str]:
    """argv run inside the environment: bash enters it, then runs the untouched argument list.

    Not `exec`: a command word may be a shell function the setup defined (conda, module, pip shims).
    """
    line = activation(server, session)
    if not line.strip():
        return list(argv)
    return ["bash", "-c", f'{KEEP_ARGS}{line}\n"${{cmd[@]}}"', "exprun-env", *argv]


def env_identity(server: ServerConfig) -> str:
    return json.dumps(server.conda, sort_keys=True) if server.conda else f"env_setup: {server.env_setup}"


def install_command(requirements: PurePosixPath, server: ServerConfig, session: RemoteSession) -> list[str]:
    if server.conda:
        conda = session.remote_path(server.conda["path"]) / "bin" / "conda"
        return [str(conda), "run", "-n", server.conda["env"], "pip", "install", "-r", str(requirements)]
    return wrap(["pip", "install", "-r", str(requirements)], server, session)


def setup_env(
    session: RemoteSession,
    server: ServerConfig,
    slug: str | None,
    force: bool = False,
    timeout: float = INSTALL_TIMEOUT_S,
    requirements_file: str | None = None,
) -> dict:
    """pip install -r the (already uploaded) requirements file when it or the environment changed."""
    rel = requirements_file or (f"{Paths(slug).code_dir.as_posix()}/requirements.txt" if slug else "requirements.txt")
    requirements = session.work_dir / rel
    data = transfer.read_bytes(session.sftp(), requirements)
    if data is None:
        hint = f"sync-code --slug {slug}" if slug else "sync-code (with requirements.txt in sync.include)"
        raise RemoteError(f"{requirements} does not exist on {session.label}; run `{hint}` first")
    digest = hashlib.sha256(data).hexdigest()
    name = slug or (rel.replace("/", "_") if requirements_file else "_project")
    marker = session.work_dir / MARKER_DIR / f"{name}.json"
    previous = json.loads(transfer.read_bytes(session.sftp(), marker) or b"{}")
    base = {"requirements": rel, "requirements_sha256": digest, "env": env_identity(server)}
    if not force and previous.get("requirements_sha256") == digest and previous.get("env") == base["env"]:
        return {
            **base,
            "installed": False,
            "reason": f"unchanged since the install of {previous.get('installed_at', '?')}",
        }
    code, out, _ = session.run(install_command(requirements, server, session), timeout=timeout, merge_stderr=True)
    tail = out.splitlines()[-TAIL_LINES:]
    if code != 0:
        raise RemoteError(f"pip install -r {rel} failed on {session.label} (exit status {code}):\n" + "\n".join(tail))
    record = {**base, "installed_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    transfer.write_bytes(session.sftp(), marker, json.dumps(record, indent=2).encode() + b"\n")
    return {
        **base,
        "installed": True,
        "reason": "requirements changed" if previous else "first install",
        "output_tail": tail,
    }
