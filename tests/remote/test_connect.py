"""Connecting to a real sshd: host keys, authentication, unreachable servers, ~/.ssh/config, jumps.

Every failure must be an error answer with the reason, never "ok" and never a traceback.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from exprun.cli import remote as cli
from exprun.core.errors import RemoteError
from exprun.remote.session import RemoteSession

from .conftest import REPO


def answer(lab, capsys, *argv: str) -> tuple[int, dict]:
    code = cli.main([*argv, "--root", str(lab.root)])
    return code, json.loads(capsys.readouterr().out)


def host_fingerprint(sshd: dict) -> str:
    done = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(Path(sshd["dir"]) / "host_ed25519.pub")],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()[1]


def test_status_uses_one_connection(lab, capsys):
    before = RemoteSession.transports_opened
    code, data = answer(lab, capsys, "status")
    assert code == 0 and data["status"] == "ok", data
    assert RemoteSession.transports_opened - before == 1
    assert data["work_dir"] == str(lab.work_dir) and data["work_dir_exists"] and data["screen"]
    assert data["host_key"] == "known"
    assert (data["reachable"], data["user"], data["host"]) == (True, lab.sshd["user"], "127.0.0.1")
    assert {"gpus_description", "gpu_count", "free_gpus", "gpus"} <= set(data)


def test_unknown_host_key_refused_with_fingerprint_and_command(lab, capsys, tmp_path):
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    lab.write_config(known_hosts=str(empty))
    code, data = answer(lab, capsys, "status")
    assert code == 1 and data["status"] == "error"
    assert "not known" in data["message"] and host_fingerprint(lab.sshd) in data["message"]
    assert f"ssh-keyscan -p {lab.sshd['port']} 127.0.0.1 >> ~/.ssh/known_hosts" in data["message"]
    assert empty.read_text() == ""


def test_trust_new_host_keys_saves_the_key_once(lab, capsys, tmp_path):
    known = tmp_path / "tofu_known_hosts"
    lab.write_config(known_hosts=str(known), trust_new_host_keys=True)
    code, data = answer(lab, capsys, "status")
    assert code == 0 and data["host_key"] == f"saved to {known}"
    assert known.read_text().startswith(f"[127.0.0.1]:{lab.sshd['port']} ssh-ed25519 ")
    lab.write_config(known_hosts=str(known), trust_new_host_keys=False)
    code, data = answer(lab, capsys, "status")
    assert code == 0 and data["host_key"] == "known", data
    assert len(known.read_text().splitlines()) == 1


def test_changed_host_key_refused_even_when_trusting_new_keys(lab, capsys, tmp_path):
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    known = tmp_path / "stale_known_hosts"
    known.write_text(f"[127.0.0.1]:{lab.sshd['port']} {' '.join(Path(f'{other}.pub').read_text().split()[:2])}\n")
    lab.write_config(known_hosts=str(known), trust_new_host_keys=True)
    code, data = answer(lab, capsys, "status")
    assert code == 1 and "HOST KEY CHANGED" in data["message"]
    assert host_fingerprint(lab.sshd) in data["message"]
    assert f"ssh-keygen -f {known} -R '[127.0.0.1]:{lab.sshd['port']}'" in data["message"]
    assert f"ssh-keyscan -p {lab.sshd['port']} 127.0.0.1 >> {known}" in data["message"]


def test_authentication_failure_lists_the_key_tried(lab, capsys, tmp_path):
    stranger = tmp_path / "stranger_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    lab.write_config(identity_file=str(stranger))
    code, data = answer(lab, capsys, "status")
    assert code == 1 and data["message"].startswith("authentication failed for")
    assert str(stranger) in data["message"] and "authorized_keys" in data["message"]


def test_connection_refused(lab, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    lab.write_config(port=port)
    code, data = answer(lab, capsys, "status")  # as the wiki's remote.py: an answer, exit 0
    assert (code, data["status"], data["reachable"], data["host"]) == (0, "ok", False, "127.0.0.1")
    assert "connection refused" in data["error"] and str(port) in data["error"]
    code, data = answer(lab, capsys, "gpu-status")  # every other verb: an error
    assert code == 1 and "connection refused" in data["message"]


@pytest.mark.parametrize(
    "argv, code",
    [
        (["status"], 0),
        (["check", "--name", "exp-x"], 0),
        (["gpu-status"], 1),
        (["sync-code", "--slug", "x"], 1),
        (["setup-env"], 1),
        (["launch", "--name", "exp-x", "--cmd", "true"], 1),
        (["tail-log", "--name", "exp-x"], 1),
        (["pull-results", "--remote-path", "results/x/", "--local-path", "results/x/"], 1),
    ],
    ids=lambda v: v[0] if isinstance(v, list) else str(v),
)
def test_an_unreachable_server_answers_as_the_wiki_tool_does(lab, capsys, argv, code):
    """Exit 0 with JSON where the wiki's remote.py answers an unreachable server with exit 0 (status, check),
    exit 1 with the reason everywhere else."""
    lab.write_config(port=1)
    got, data = answer(lab, capsys, *argv)
    assert got == code, data
    if code == 0:
        assert data["status"] == "ok" and data["reachable"] is False and data["host"] == "127.0.0.1"
        assert "connection refused" in data["error"]
    else:
        assert data["status"] == "error" and "connection refused" in data["message"]


def test_check_of_an_unreachable_server_says_it_does_not_know(lab, capsys):
    lab.write_config(port=1)
    code, data = answer(lab, capsys, "check", "--name", "exp-x")
    assert code == 0 and data["alive"] is None and data["state"] == "unreachable" and "exit_reason" not in data
    assert (data["session"], data["last_lines"], data["anomalies"], data["log_file"]) == (
        "exp-x",
        [],
        [],
        "logs/exp-x.log",
    )
    code, data = answer(lab, capsys, "check", "--name", "exp-Bad Name")  # refused before connecting
    assert code == 1 and data["status"] == "error"


def test_a_refused_host_key_is_an_error_on_check_too(lab, capsys, tmp_path):
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    lab.write_config(known_hosts=None, ssh_options={"UserKnownHostsFile": str(empty)})
    code, data = answer(lab, capsys, "check", "--name", "exp-x")
    assert code == 1 and "not known" in data["message"]


def test_silent_server_times_out(lab, capsys):
    with socket.socket() as silent:  # accepts TCP (the kernel does) but never says "SSH-2.0"
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        lab.write_config(port=silent.getsockname()[1], ssh_options={"ConnectTimeout": 1})
        code, data = answer(lab, capsys, "status")
    assert code == 0 and data["reachable"] is False and "no SSH handshake within 1 s" in data["error"]


def test_ssh_config_alias_and_its_identity_file(lab, capsys):
    (lab.home / ".ssh" / "config").write_text(
        f"Host gpubox\n  HostName 127.0.0.1\n  Port {lab.sshd['port']}\n  IdentityFile {lab.sshd['client_key']}\n"
    )
    lab.write_config(host="gpubox", port=None, identity_file=None)
    code, data = answer(lab, capsys, "status")
    assert code == 0, data
    assert data["address"] == f"{lab.sshd['user']}@127.0.0.1:{lab.sshd['port']}"


def test_ssh_agent_key(lab, capsys, tmp_path, monkeypatch):
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if sock.exists():
                break
            subprocess.run(["sleep", "0.02"])
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        subprocess.run(["ssh-add", "-q", lab.sshd["client_key"]], check=True, env=os.environ)
        lab.write_config(identity_file=None)
        code, data = answer(lab, capsys, "status")
        assert code == 0, data
    finally:
        agent.terminate()
        agent.wait()


def test_proxy_jump_through_a_jump_host(lab, capsys):
    lab.write_config(proxy_jump=f"{lab.sshd['user']}@127.0.0.1:{lab.sshd['port']}")
    before = RemoteSession.transports_opened
    code, data = answer(lab, capsys, "status")
    assert code == 0, data
    assert RemoteSession.transports_opened - before == 2  # the jump host, then the target inside it


def test_shim_reports_an_unreachable_server_like_the_wiki_tool(lab, tmp_path):
    lab.write_config(host="no-such-host.invalid")
    env = {**os.environ, "HOME": str(lab.home)}
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "remote.py"),
            "--config",
            str(lab.config),
            "status",
            "--root",
            str(lab.root),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    data = json.loads(done.stdout)
    assert done.returncode == 0 and (data["status"], data["reachable"]) == ("ok", False)
    assert "cannot resolve host name 'no-such-host.invalid'" in data["error"]


def test_invalid_config_is_an_error_answer(lab, capsys):
    lab.config.write_text("host: [unclosed\n")
    code, data = answer(lab, capsys, "status")
    assert code == 1 and "invalid YAML" in data["message"]


@pytest.mark.parametrize("group", [True, False])
def test_exprun_remote_group_and_shim_share_the_verbs(lab, capsys, group):
    import argparse

    parser = argparse.ArgumentParser(prog="exprun")
    cli.add_parser(parser.add_subparsers(dest="group", required=True))
    argv = ["remote", "status", "--root", str(lab.root)] if group else None
    if group:
        args = parser.parse_args(argv)
        assert args.handler(args) == 0
    else:
        assert cli.main(["status", "--root", str(lab.root)]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "ok"


# -- ssh_options as the wiki's server.yaml writes them ---------------------------------------------
def other_key_line(lab, tmp_path) -> str:
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    return f"[127.0.0.1]:{lab.sshd['port']} {' '.join(Path(f'{other}.pub').read_text().split()[:2])}\n"


def test_everything_in_ssh_options_connects(lab, capsys):
    """Port, User, IdentityFile, UserKnownHostsFile (the fixture's known_hosts) and the keepalive options, only in
    ssh_options: the connection works and checks the host key against that file."""
    lab.write_config(
        port=None,
        user=lab.sshd["user"],
        identity_file=None,
        known_hosts=None,
        ssh_options={
            "Port": str(lab.sshd["port"]),
            "User": lab.sshd["user"],
            "IdentityFile": lab.sshd["client_key"],
            "UserKnownHostsFile": lab.sshd["known_hosts"],
            "ConnectTimeout": "5",
            "ServerAliveInterval": "60",
            "ServerAliveCountMax": "3",
            "BatchMode": "yes",
        },
    )
    code, data = answer(lab, capsys, "status")
    assert code == 0 and data["reachable"] and data["host_key"] == "known", data
    assert data["address"] == f"{lab.sshd['user']}@127.0.0.1:{lab.sshd['port']}"


def test_user_known_hosts_file_replaces_the_home_one(lab, capsys, tmp_path):
    """The right key in ~/.ssh/known_hosts does not help when UserKnownHostsFile names another file: as OpenSSH."""
    (lab.home / ".ssh" / "known_hosts").write_text(Path(lab.sshd["known_hosts"]).read_text())
    lab.write_config(known_hosts=None)
    assert answer(lab, capsys, "status")[0] == 0  # the home file is read by default
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    lab.write_config(known_hosts=None, ssh_options={"UserKnownHostsFile": str(empty)})
    code, data = answer(lab, capsys, "status")
    assert code == 1 and "not known" in data["message"] and f">> {empty}" in data["message"], data


def test_a_wrong_user_known_hosts_file_is_refused_even_with_strict_checking_off(lab, capsys, tmp_path):
    wrong = tmp_path / "wrong_known_hosts"
    line = other_key_line(lab, tmp_path)
    wrong.write_text(line)
    for strict in ("yes", "no", "accept-new"):
        lab.write_config(
            known_hosts=None, ssh_options={"UserKnownHostsFile": str(wrong), "StrictHostKeyChecking": strict}
        )
        code, data = answer(lab, capsys, "status")
        assert code == 1 and "HOST KEY CHANGED" in data["message"], (strict, data)
        assert host_fingerprint(lab.sshd) in data["message"]
    assert wrong.read_text() == line  # never replaced, never appended to


@pytest.mark.parametrize("strict", ["accept-new", "no"])
def test_strict_host_key_checking_accept_new_saves_a_new_key_once(lab, capsys, tmp_path, strict):
    fresh = tmp_path / "fresh_known_hosts"
    lab.write_config(known_hosts=None, ssh_options={"UserKnownHostsFile": str(fresh), "StrictHostKeyChecking": strict})
    code, data = answer(lab, capsys, "status")
    assert code == 0 and data["host_key"] == f"saved to {fresh}", data
    assert fresh.read_text().startswith(f"[127.0.0.1]:{lab.sshd['port']} ssh-ed25519 ")
    code, data = answer(lab, capsys, "status")
    assert code == 0 and data["host_key"] == "known" and len(fresh.read_text().splitlines()) == 1


def test_without_strict_host_key_checking_an_unknown_key_stays_refused(lab, capsys, tmp_path):
    fresh = tmp_path / "fresh_known_hosts"
    lab.write_config(known_hosts=None, ssh_options={"UserKnownHostsFile": str(fresh)})
    code, data = answer(lab, capsys, "status")
    assert code == 1 and "not known" in data["message"] and not fresh.exists()


def test_identities_only_keeps_the_agent_keys_out(lab, capsys, tmp_path, monkeypatch):
    stranger = tmp_path / "stranger_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if sock.exists():
                break
            subprocess.run(["sleep", "0.02"])
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        subprocess.run(["ssh-add", "-q", lab.sshd["client_key"]], check=True, env=os.environ)
        lab.write_config(identity_file=str(stranger))
        assert answer(lab, capsys, "status")[0] == 0  # the agent's key logs in after the stranger's is refused
        lab.write_config(identity_file=str(stranger), ssh_options={"IdentitiesOnly": "yes"})
        code, data = answer(lab, capsys, "status")
        assert code == 1 and data["message"].startswith("authentication failed") and "agent key" not in data["message"]
    finally:
        agent.terminate()
        agent.wait()


def test_proxy_jump_in_ssh_options(lab, capsys):
    lab.write_config(ssh_options={"ProxyJump": f"{lab.sshd['user']}@127.0.0.1:{lab.sshd['port']}"})
    before = RemoteSession.transports_opened
    code, data = answer(lab, capsys, "status")
    assert code == 0, data
    assert RemoteSession.transports_opened - before == 2


def test_an_unsupported_option_is_one_line_naming_it(lab, capsys):
    lab.write_config(ssh_options={"LocalForward": "8080 localhost:80"})
    code, data = answer(lab, capsys, "status")
    assert code == 1 and "ssh_options.LocalForward" in data["message"] and "\n" not in data["message"]


class Relay:
    """A TCP relay on 127.0.0.1 in front of the sshd whose traffic can be frozen: a link that goes silent without
    closing (a NAT that forgot the flow), which only keepalives can notice."""

    def __init__(self, port: int):
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.frozen = threading.Event()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                while self.frozen.is_set():
                    time.sleep(0.05)  # hold the bytes: nothing arrives, nothing is refused
                sink.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def relay(lab, tmp_path):
    made = Relay(lab.sshd["port"])
    known = tmp_path / "relay_known_hosts"
    key = Path(lab.sshd["known_hosts"]).read_text().split(None, 1)[1]
    known.write_text(f"[127.0.0.1]:{made.port} {key}")
    made.known_hosts = known
    yield made
    made.close()


def test_a_link_gone_silent_is_dropped_after_the_keepalives_go_unanswered(lab, relay):
    """ServerAliveInterval 1 × ServerAliveCountMax 2: a command on a frozen link fails within seconds with the
    reason, instead of waiting for its own time limit (60 s here)."""
    server = lab.server(
        port=relay.port,
        known_hosts=str(relay.known_hosts),
        ssh_options={"ServerAliveInterval": "1", "ServerAliveCountMax": "2"},
    )
    started = time.monotonic()
    with pytest.raises(RemoteError) as caught:
        with RemoteSession(server) as session:
            assert session.run(["echo", "up"])[1] == "up\n"
            time.sleep(2.5)  # idle but healthy: the keepalives are answered, nothing is dropped
            assert session.run(["echo", "still up"])[1] == "still up\n"
            relay.frozen.set()
            session.run(["sleep", "30"], timeout=60)
    took = time.monotonic() - started
    assert "no answer to keepalives for 2 s" in str(caught.value) and "ServerAliveCountMax 2" in str(caught.value)
    assert took < 12, took
