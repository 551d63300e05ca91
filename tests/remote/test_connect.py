"""Connecting to a real sshd: host keys, authentication, unreachable servers, ~/.ssh/config, jumps.

Every failure must be an error answer with the reason, never "ok" and never a traceback.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from exprun.cli import remote as cli
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
