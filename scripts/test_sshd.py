#!/usr/bin/env python3
"""A throwaway OpenSSH server on 127.0.0.1 for the remote tests (and for trying `exprun remote` by hand).

    python3 scripts/test_sshd.py start DIR [--path PATH]   # prints JSON: port, pid, keys, known_hosts
    python3 scripts/test_sshd.py stop DIR                  # stops it by its PID

Everything lives in DIR: its own sshd_config, an ed25519 host key and client key
(ssh-keygen), authorized_keys, the PID file and the log. Only the current user can
log in, by key. --path sets PATH for the sessions (sshd's SetEnv), so a test can put
fake tools (nvidia-smi) in front. Exit status 3 means sshd is not installed.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

NOT_INSTALLED = 3
START_WAIT_S = 10.0


def sshd_binary() -> str | None:
    found = shutil.which("sshd") or "/usr/sbin/sshd"
    return found if os.access(found, os.X_OK) else None


def keygen(path: Path, comment: str) -> str:
    if not path.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    return path.with_name(path.name + ".pub").read_text().strip()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_config(folder: Path, port: int, session_env: dict[str, str], penalties: bool) -> Path:
    lines = [
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {folder / 'host_ed25519'}",
        f"PidFile {folder / 'sshd.pid'}",
        f"AuthorizedKeysFile {folder / 'authorized_keys'}",
        "StrictModes no",
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "PermitRootLogin prohibit-password",
        "AllowTcpForwarding yes",
        "Subsystem sftp internal-sftp",
        "LogLevel VERBOSE",
        "MaxStartups 50",
        "MaxSessions 50",
    ]
    if penalties:
        lines.append("PerSourcePenalties no")  # OpenSSH >= 9.8 would slow us down after the failing-auth tests
    if session_env:
        lines.append("SetEnv " + " ".join(f'"{name}={value}"' for name, value in session_env.items()))
    config = folder / "sshd_config"
    config.write_text("\n".join(lines) + "\n")
    return config


def greeted(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            return conn.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def start(folder: Path, path_env: str | None, screendir: str | None = None) -> dict:
    session_env = {**({"PATH": path_env} if path_env else {}), **({"SCREENDIR": screendir} if screendir else {})}
    sshd = sshd_binary()
    if sshd is None:
        print("sshd is not installed: apt-get install openssh-server", file=sys.stderr)
        sys.exit(NOT_INSTALLED)
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation folder
    host_pub = keygen(folder / "host_ed25519", "exprun-test-host")
    client_pub = keygen(folder / "client_ed25519", "exprun-test-client")
    (folder / "authorized_keys").write_text(client_pub + "\n")
    probe = subprocess.run(
        [sshd, "-t", "-f", str(write_config(folder, 22, session_env, True))],
        capture_output=True,
        text=True,
        check=False,
    )
    penalties = "PerSourcePenalties" not in probe.stderr  # an older sshd does not know the option
    for _ in range(3):
        port = free_port()
        config = write_config(folder, port, session_env, penalties)
        with open(folder / "sshd.log", "ab") as log:
            process = subprocess.Popen(
                [sshd, "-D", "-e", "-f", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_WAIT_S
        while time.monotonic() < deadline and process.poll() is None and not greeted(port):
            time.sleep(0.05)
        if process.poll() is None and greeted(port):
            break
        process.kill()
    else:
        sys.exit(f"sshd did not start; see {folder / 'sshd.log'}:\n{(folder / 'sshd.log').read_text()[-2000:]}")
    known = folder / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {' '.join(host_pub.split()[:2])}\n")
    info = {
        "port": port,
        "pid": process.pid,
        "dir": str(folder),
        "client_key": str(folder / "client_ed25519"),
        "host_key_pub": host_pub,
        "known_hosts": str(known),
        "log": str(folder / "sshd.log"),
        "user": getpass.getuser(),
    }
    (folder / "sshd.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def stop(folder: Path) -> None:
    info = json.loads((folder / "sshd.json").read_text())
    pid = int(info["pid"])
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _running(pid):
        time.sleep(0.05)
    if _running(pid):
        os.kill(pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    """Alive and not a zombie (in a container nobody may reap the orphaned sshd)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--path", help="PATH of the ssh sessions")
    parser.add_argument("--screendir", help="SCREENDIR of the ssh sessions (a parallel test process's own sockets)")
    args = parser.parse_args()
    if args.action == "start":
        print(json.dumps(start(args.dir.resolve(), args.path, args.screendir)))
    else:
        stop(args.dir.resolve())


if __name__ == "__main__":
    main()
