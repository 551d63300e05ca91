"""RemoteSession: one SSH connection (one paramiko Transport) for every step of a command.

A deploy (sync, hash check, setup, launch) or a status over many experiments
pays for one TCP connect, key exchange, host-key check and login, then opens
cheap channels (commands, SFTP) on it. Commands are argument lists until here,
where they become the one string SSH carries (shlex.join).
"""

from __future__ import annotations

import re
import secrets
import shlex
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath
from typing import Literal

import paramiko

from exprun.core.errors import RemoteError, UnreachableError
from exprun.remote import auth, hostkeys, keepalive
from exprun.remote.endpoints import Hop, hops
from exprun.remote.server_config import ServerConfig

Command = Sequence[str] | str
POLL_S = 0.005


class RemoteSession:
    """Context manager over one connection to the configured server (through its jump hosts).

    `run(argv_or_str, timeout) -> (code, stdout, stderr)`, `run_many([...])` for several
    commands in one round trip, `sftp()` for files. Connection failures and drops surface
    as RemoteError with the reason, never as a paramiko traceback.
    """

    transports_opened = 0  # every Transport this process opened; tests check one per command

    def __init__(self, server: ServerConfig):
        self.server = server
        self.route: list[Hop] = hops(server)
        self.target = self.route[-1]
        self._transports: list[paramiko.Transport] = []
        self._watchdogs: list[keepalive.Watchdog] = []
        self._sftp: paramiko.SFTPClient | None = None
        self._home: PurePosixPath | None = None
        self.host_key = ""

    # -- connection -------------------------------------------------------------------------
    def __enter__(self) -> RemoteSession:
        self.open()
        return self

    def __exit__(self, kind, exc, tb) -> Literal[False]:
        dropped = isinstance(exc, (paramiko.SSHException, EOFError, socket.timeout)) or (
            isinstance(exc, OSError) and not self.alive
        )
        silent = next((dog.dead for dog in self._watchdogs if dog.dead), "")
        self.close()
        if dropped:
            raise RemoteError(
                f"connection to {self.label} lost: {silent or exc or kind.__name__}; run the command again"
            ) from exc
        return False

    @property
    def label(self) -> str:
        """How messages name the server: the alias of server.yaml, and where it really is when that differs."""
        if self.server.host == self.target.hostname:
            return self.target.label
        return f"{self.server.host} ({self.target.label})"

    @property
    def transport(self) -> paramiko.Transport:
        if not self._transports:
            raise RemoteError(f"no connection to {self.label}: use the session as a context manager")
        return self._transports[-1]

    @property
    def alive(self) -> bool:
        return bool(self._transports) and self._transports[-1].is_active()

    def open(self) -> None:
        """Connect through every hop; a jump host carries the next hop in a direct-tcpip channel."""
        sock = None
        try:
            for index, hop in enumerate(self.route):
                self._transports.append(self._handshake(hop, sock))
                if index + 1 < len(self.route):
                    sock = self._tunnel(self._transports[-1], hop, self.route[index + 1])
        except BaseException:
            self.close()  # a jump host already connected must not linger
            raise

    def close(self) -> None:
        if self._sftp is not None:
            self._sftp.close()
            self._sftp = None
        for dog in self._watchdogs:
            dog.stop()
        for transport in reversed(self._transports):
            transport.close()
        self._transports.clear()
        self._watchdogs.clear()

    def _handshake(self, hop: Hop, sock) -> paramiko.Transport:
        timeout = self.server.connect_timeout
        sock = sock or _tcp_connect(hop, timeout)
        transport = paramiko.Transport(sock)
        RemoteSession.transports_opened += 1
        transport.banner_timeout = transport.handshake_timeout = transport.auth_timeout = timeout
        transport.use_compression(self.server.ssh.compression)
        try:
            read, save_to = hostkeys.files(self.server)
            known = hostkeys.known_keys(hop, read)
            hostkeys.prefer_known_types(transport, known)
            try:
                transport.start_client(timeout=timeout)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise UnreachableError(
                    f"cannot reach {hop.label}: SSH handshake failed ({_reason(exc, timeout)})"
                ) from None
            if not (transport.is_active() and transport.initial_kex_done):  # start_client returns quietly on timeout
                raise UnreachableError(f"cannot reach {hop.label}: {_silent(timeout)}")
            self.host_key = hostkeys.check(
                transport.get_remote_server_key(), hop, known, self.server.trusts_new_keys, save_to
            )
            auth.authenticate(transport, hop)
        except BaseException:
            transport.close()
            raise
        dog = keepalive.guard(transport, self.server.ssh.server_alive_interval, self.server.ssh.server_alive_count_max)
        if dog is not None:
            self._watchdogs.append(dog)
        return transport

    def _tunnel(self, transport: paramiko.Transport, jump: Hop, nxt: Hop) -> paramiko.Channel:
        try:
            return transport.open_channel(
                "direct-tcpip", (nxt.hostname, nxt.port), ("127.0.0.1", 0), timeout=self.server.connect_timeout
            )
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise UnreachableError(f"cannot reach {nxt.label} through jump host {jump.label}: {exc}") from None

    # -- commands ---------------------------------------------------------------------------
    def run(
        self, command: Command, timeout: float = 60, merge_stderr: bool = False, input: str | None = None
    ) -> tuple[int, str, str]:
        """Run one command (an argument list, or a ready shell string) and wait for it.

        `input` goes to its stdin (sbatch reads the batch script there). Both streams are
        drained while waiting, so a chatty stderr cannot stall the remote.
        """
        text = command if isinstance(command, str) else shlex.join(command)
        channel = self.transport.open_session(timeout=self.server.connect_timeout)
        try:
            channel.set_combine_stderr(merge_stderr)
            channel.exec_command(text)
            if input:
                channel.sendall(input.encode("utf-8"))
            channel.shutdown_write()
            out, err = _drain(channel, time.monotonic() + timeout, text, self.label)
            code = channel.recv_exit_status()
        finally:
            channel.close()
        return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def run_streaming(self, command: Command, write: Callable[[bytes], None], timeout: float = 3600) -> int:
        """Run one command, stderr merged into stdout, handing each piece of output to `write` as it
        arrives (a long download shows its progress while it runs); its exit status.
        """
        text = command if isinstance(command, str) else shlex.join(command)
        channel = self.transport.open_session(timeout=self.server.connect_timeout)
        deadline = time.monotonic() + timeout
        try:
            channel.set_combine_stderr(True)
            channel.exec_command(text)
            channel.shutdown_write()
            while True:
                got = False
                while channel.recv_ready():
                    write(channel.recv(65536))
                    got = True
                if (
                    (channel.eof_received or channel.closed)
                    and not channel.recv_ready()
                    and channel.exit_status_ready()
                ):
                    return channel.recv_exit_status()
                if channel.closed and not got:
                    raise EOFError(f"channel closed before `{text[:80]}` finished")
                if time.monotonic() > deadline:
                    raise RemoteError(f"`{text[:200]}` did not finish on {self.label} within {timeout:g} s")
                if not got:
                    time.sleep(0.05)
        finally:
            channel.close()

    def run_many(self, commands: Sequence[Sequence[str]], timeout: float = 60) -> list[tuple[int, str]]:
        """Several argument lists in one round trip (one `sh -c`): each one's exit code and output.

        Stderr is folded into each output; a random marker line separates the answers.
        """
        token = f"exprun-{secrets.token_hex(8)}"
        script = "".join(f"{shlex.join(argv)} </dev/null 2>&1; printf '\\n{token}:%d\\n' $?\n" for argv in commands)
        _, out, _ = self.run(["sh", "-c", script], timeout)
        parts = re.split(rf"\n{token}:(\d+)\n", out)
        answers = [(int(parts[i + 1]), parts[i]) for i in range(0, len(parts) - 1, 2)]
        if len(answers) != len(commands):
            raise RemoteError(f"{self.label} cut the answer to {len(commands)} commands short: {out[-300:]!r}")
        return answers

    # -- files ------------------------------------------------------------------------------
    def sftp(self) -> paramiko.SFTPClient:
        """The session's one SFTP channel, opened on first use."""
        if self._sftp is None:
            try:
                self._sftp = paramiko.SFTPClient.from_transport(self.transport)
            except paramiko.SSHException as exc:
                raise RemoteError(
                    f"{self.label} refused SFTP ({exc}); enable `Subsystem sftp` in its sshd_config"
                ) from None
            assert self._sftp is not None  # None only without a channel, and open_session raises for that
        return self._sftp

    @property
    def home(self) -> PurePosixPath:
        if self._home is None:
            self._home = PurePosixPath(self.sftp().normalize("."))
        return self._home

    def remote_path(self, path: str | PurePosixPath) -> PurePosixPath:
        """An absolute remote path: `~/x` and relative paths are under the login's home."""
        text = str(path)
        if text == "~" or text.startswith("~/"):
            return self.home / text[2:]
        return PurePosixPath(text) if text.startswith("/") else self.home / text

    @property
    def work_dir(self) -> PurePosixPath:
        return self.remote_path(self.server.work_dir)

    def in_work_dir(self, rel: str | PurePosixPath) -> PurePosixPath:
        """A path given relative to work_dir (absolute paths stay as they are)."""
        text = str(rel)
        return PurePosixPath(text) if text.startswith("/") else self.work_dir / text


def _tcp_connect(hop: Hop, timeout: float) -> socket.socket:
    try:
        return socket.create_connection((hop.hostname, hop.port), timeout=timeout)
    except socket.gaierror as exc:
        raise UnreachableError(
            f"cannot reach {hop.label}: cannot resolve host name {hop.hostname!r} ({exc.strerror})"
        ) from None
    except ConnectionRefusedError:
        raise UnreachableError(
            f"cannot reach {hop.label}: connection refused (is sshd running there, on port {hop.port}?)"
        ) from None
    except TimeoutError:
        raise UnreachableError(f"cannot reach {hop.label}: connection timed out after {timeout:g} s") from None
    except OSError as exc:
        raise UnreachableError(f"cannot reach {hop.label}: {exc.strerror or exc}") from None


def _reason(exc: BaseException, timeout: float) -> str:
    text = str(exc) or type(exc).__name__
    return _silent(timeout) if "banner" in text.lower() else text


def _silent(timeout: float) -> str:
    return f"no SSH handshake within {timeout:g} s (timed out, or not an SSH server)"


def _drain(channel: paramiko.Channel, deadline: float, text: str, label: str) -> tuple[bytes, bytes]:
    """Read both streams until EOF and the exit status; sshd may send the status before the last output."""
    out, err = bytearray(), bytearray()
    while True:
        got = False
        while channel.recv_ready():
            out += channel.recv(65536)
            got = True
        while channel.recv_stderr_ready():
            err += channel.recv_stderr(65536)
            got = True
        drained = (
            (channel.eof_received or channel.closed) and not channel.recv_ready() and not channel.recv_stderr_ready()
        )
        if drained and channel.exit_status_ready():
            return bytes(out), bytes(err)
        if channel.closed and not got:
            raise EOFError(f"channel closed before `{text[:80]}` finished")
        if time.monotonic() > deadline:
            raise RemoteError(f"`{text[:200]}` did not finish on {label} within the time limit")
        if not got:
            time.sleep(POLL_S)
