"""The remote layer's pure parts: nvidia-smi parsing, server.yaml checks, hops, the wrapper line.

No sshd needed. Golden files live in tests/golden/remote/; after an intended change of the
wrapper line regenerate it with EXPRUN_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path, PurePosixPath
from types import SimpleNamespace

import paramiko
import pytest
import yaml

from exprun.core.errors import ConfigError, RemoteError
from exprun.machines import remote_gpus as gpus
from exprun.machines.gpus import GPUView
from exprun.machines.launchers import screen, ssh
from exprun.remote import endpoints, envsetup, hostkeys, server_config

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "remote"
UPDATE = os.environ.get("EXPRUN_UPDATE_GOLDEN") == "1"


def golden(name: str) -> str:
    return (GOLDEN / name).read_text()


# -- nvidia-smi ---------------------------------------------------------------------------------
def test_parse_real_h200_idle_and_busy():
    idle = gpus.parse(
        golden("nvidia_smi_h200_gpus_idle.csv"),
        golden("nvidia_smi_h200_uuids.csv"),
        golden("nvidia_smi_h200_apps_idle.csv"),
    )
    assert [(g.index, g.name, g.memory_used_mib, g.memory_total_mib, g.processes) for g in idle] == [
        (0, "NVIDIA H200", 0, 143771, [])
    ]
    assert idle[0].is_free(500)
    busy = gpus.parse(
        golden("nvidia_smi_h200_gpus_busy.csv"),
        golden("nvidia_smi_h200_uuids.csv"),
        golden("nvidia_smi_h200_apps_busy.csv"),
    )
    assert busy[0].memory_used_mib == 2667 and busy[0].processes == [444]
    assert not busy[0].is_free(500)


def test_parse_several_gpus_processes_by_uuid_and_not_available_values():
    found = gpus.parse(
        golden("nvidia_smi_4gpu_gpus.csv"), golden("nvidia_smi_4gpu_uuids.csv"), golden("nvidia_smi_4gpu_apps.csv")
    )
    assert [g.index for g in found] == [0, 1, 2, 3]
    assert found[1].processes == [51234, 51240] and found[1].utilization_pct == 97
    assert found[3].memory_used_mib == 0 and found[3].processes == [7001]  # [N/A] memory, but a process
    answer = gpus.answer(GPUView(found), 500, "box")
    assert answer["free"] == [0]  # 2 uses 612 MiB >= 500; 3 has a process
    assert "message" not in answer


def test_parse_ignores_noise_lines():
    assert gpus.parse("No devices were found\n", "", "") == []
    assert gpus.parse("0, T4, 1, 15360, 0\n", "0, GPU-x\n", "No running processes found\n")[0].processes == []


def test_no_gpu_answer_names_the_host_and_reason():
    answer = gpus.answer(GPUView([], "nvidia-smi not found"), 500, "gpu-box")
    assert answer["gpus"] == [] and answer["message"] == "no GPU visible on gpu-box: nvidia-smi not found"


# -- server.yaml --------------------------------------------------------------------------------
def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "config" / "server.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


BASE = {"host": "gpu", "user": "me", "work_dir": "~/w", "env_setup": ""}


def test_defaults_filled_and_paths_from_the_wiki_root(tmp_path):
    server = server_config.load(write(tmp_path, {**BASE, "identity_file": "keys/id"}), tmp_path)
    assert (server.port, server.free_gpu_threshold_mib, server.trust_new_host_keys) == (22, 500, False)
    assert server.identity_files == (tmp_path.resolve() / "keys" / "id",)
    assert server.connect_timeout == 10 and server.ssh.strict_host_key_checking == "yes"


@pytest.mark.parametrize(
    "change, words",
    [
        ({"host": None}, ["'host' is a required property"]),
        ({"port": "22"}, ["field 'port'", "is not of type 'integer'"]),
        ({"hots": "x"}, ["'hots' was unexpected"]),
        ({"conda": {"path": "~/c"}}, ["field 'conda'", "'env' is a required property"]),
        ({"conda": {"path": "~/c", "env": "e"}}, ["at most one of 'conda'", "found both"]),
        ({"sync": {"include": ["../secrets/*"]}}, ["field 'sync.include'", "inside the wiki root"]),
        ({"ssh_options": {"ConnectTimeout": "soon"}}, ["field 'ssh_options.ConnectTimeout'", "not a time"]),
        ({"ssh_options": {"Compression": "maybe"}}, ["field 'ssh_options.Compression'", "yes or no"]),
        ({"ssh_options": {"StrictHostKeyChecking": "sometimes"}}, ["StrictHostKeyChecking", "accept-new"]),
        ({"ssh_options": {"Port": "70000"}}, ["field 'ssh_options.Port'", "1-65535"]),
        ({"ssh_options": {"ProxyCommand": "nc %h %p"}}, ["ssh_options.ProxyCommand", "not supported", "proxy_jump"]),
        ({"ssh_options": {"KexAlgorithms": "+x"}}, ["ssh_options.KexAlgorithms", "does not support", "remove it"]),
        ({"ssh_options": {"Port": 2200, "port": 2201}}, ["ssh_options.port", "given twice"]),
        ({"ssh_options": {"ServerAliveInterval": [1, 2]}}, ["field 'ssh_options.ServerAliveInterval'"]),
        ({"ssh_options": {"User": "root"}}, ["ssh_options.User", "differs from user: 'me'", "keep one"]),
        ({"port": 2200, "ssh_options": {"Port": 2222}}, ["ssh_options.Port", "differs from port: 2200"]),
        ({"proxy_jump": "a", "ssh_options": {"ProxyJump": "b"}}, ["ssh_options.ProxyJump", "proxy_jump: 'a'"]),
        ({"trust_new_host_keys": True, "ssh_options": {"StrictHostKeyChecking": "yes"}}, ["contradicts"]),
        ({"ssh_options": {"UserKnownHostsFile": "~/%h_known"}}, ["UserKnownHostsFile", "only %d"]),
    ],
)
def test_invalid_settings_name_file_and_field(tmp_path, change, words):
    data = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        server_config.load(path, tmp_path)
    message = str(caught.value)
    assert message.startswith(str(path)) and "\n" not in message
    for word in words:
        assert word in message


def test_the_wiki_tools_own_server_yaml_loads_as_it_is(tmp_path):
    """No conda/env_setup (the server's default python), string ssh_options in any case: read and typed."""
    from exprun.remote import envsetup

    data = {
        "host": "gpu",
        "user": "me",
        "port": 22,
        "identity_file": "",
        "proxy_jump": "",
        "work_dir": "~/w",
        "gpus": "4x A100",
        "ssh_options": {
            "connecttimeout": "5",
            "Compression": "yes",
            "ServerAliveInterval": "60",
            "ServerAliveCountMax": "3",
            "BatchMode": "yes",
        },
    }
    server = server_config.load(write(tmp_path, data), tmp_path)
    assert server.connect_timeout == 5.0 and server.ssh.compression is True
    assert (server.ssh.server_alive_interval, server.ssh.server_alive_count_max) == (60, 3)
    assert server.ssh.without_effect == ("BatchMode",) and server.identity_files == () and server.proxy_jump == ""
    assert server.conda is None and server.env_setup is None
    assert envsetup.wrap(["python3", "x.py"], server, session=None) == ["python3", "x.py"]
    assert not server.trusts_new_keys and not server.port_given  # port 22: ~/.ssh/config's Port may apply


@pytest.mark.parametrize(
    "written, strict, trusts",
    [
        ({}, "yes", False),
        ({"StrictHostKeyChecking": "ask"}, "yes", False),
        ({"StrictHostKeyChecking": True}, "yes", False),
        ({"StrictHostKeyChecking": "accept-new"}, "accept-new", True),
        ({"StrictHostKeyChecking": False}, "accept-new", True),
        ({"stricthostkeychecking": "off"}, "accept-new", True),
    ],
)
def test_strict_host_key_checking_is_never_weaker_than_written(tmp_path, written, strict, trusts):
    """Absent: refuse unknown keys (exprun's default); `no` is read as accept-new: a CHANGED key stays refused."""
    server = server_config.load(write(tmp_path, {**BASE, "ssh_options": written}), tmp_path)
    assert (server.ssh.strict_host_key_checking, server.trusts_new_keys) == (strict, trusts)


def test_openssh_spellings_of_the_top_level_keys_and_known_hosts_files(tmp_path, home, monkeypatch):
    monkeypatch.setenv("LAB", "lab")
    options = {
        "Port": "2222",
        "User": "me",
        "ProxyJump": "jumper@bastion",
        "IdentityFile": "~/.ssh/lab_key",
        "IdentitiesOnly": "yes",
        "UserKnownHostsFile": "%d/.ssh/${LAB}_known keys/known",
        "ServerAliveInterval": "1m",
    }
    server = server_config.load(write(tmp_path, {**BASE, "identity_file": "keys/id", "ssh_options": options}), tmp_path)
    assert (server.port, server.port_given, server.user, server.proxy_jump) == (2222, True, "me", "jumper@bastion")
    assert server.identity_files == (tmp_path.resolve() / "keys" / "id", home / ".ssh" / "lab_key")
    assert server.ssh.server_alive_interval == 60
    read, save_to = hostkeys.files(server)
    assert read == (home / ".ssh" / "lab_known", tmp_path.resolve() / "keys" / "known")
    assert save_to == home / ".ssh" / "lab_known"
    hops = endpoints.hops(server)
    assert [(h.user, h.hostname, h.port) for h in hops] == [("jumper", "bastion", 22), ("me", "gpu", 2222)]
    assert hops[-1].identities_only and hops[-1].identity_files[1] == home / ".ssh" / "lab_key"
    extra = server_config.load(
        write(tmp_path, {**BASE, "known_hosts": "k2", "ssh_options": {"UserKnownHostsFile": "none"}}), tmp_path
    )
    assert hostkeys.files(extra) == ((tmp_path.resolve() / "k2",), tmp_path.resolve() / "k2")


def test_server_yaml_is_also_found_above_the_wiki_root(tmp_path):
    root = tmp_path / "wiki-root"
    root.mkdir()
    write(tmp_path, BASE)  # tmp_path/config/server.yaml: the folder above the root
    assert server_config.config_path(root, None).resolve() == (tmp_path / "config" / "server.yaml").resolve()
    write(root, BASE)
    assert server_config.config_path(root, None) == root / "config" / "server.yaml"


def test_missing_file_points_at_the_example(tmp_path):
    with pytest.raises(ConfigError, match="server.example.yaml"):
        server_config.load(tmp_path / "config" / "server.yaml", tmp_path)
    assert server_config.EXAMPLE_PATH.exists()
    server_config.load(server_config.EXAMPLE_PATH)  # the shipped example is valid


def test_exclude_matches_as_rsync_does(tmp_path):
    from exprun.remote.rsync_rules import Filter

    server = server_config.load(write(tmp_path, {**BASE, "sync": {"exclude": ["*.ckpt", "data/raw/*"]}}), tmp_path)
    rules = Filter.of(server.sync_include, server.sync_exclude)
    assert rules.excluded("a/b/model.ckpt") and rules.excluded("data/raw/x.csv") and rules.excluded("x/data/raw/y")
    assert not rules.excluded("data/small/x.csv")


# -- ~/.ssh/config and jump hosts ---------------------------------------------------------------
@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home" / ".ssh").mkdir(parents=True)
    return tmp_path / "home"


def test_ssh_config_fills_what_server_yaml_leaves_out(tmp_path, home):
    (home / ".ssh" / "config").write_text(
        "Host gpu\n  HostName 10.1.2.3\n  Port 2222\n  User ignored\n  IdentityFile ~/.ssh/lab_key\n"
        "  ProxyJump bastion\nHost bastion\n  HostName b.example.org\n  User jumper\n  Port 2200\n"
    )
    hops = endpoints.hops(server_config.load(write(tmp_path, BASE), tmp_path))
    assert [(h.hostname, h.port, h.user) for h in hops] == [("b.example.org", 2200, "jumper"), ("10.1.2.3", 2222, "me")]
    assert hops[1].identity_files == (home / ".ssh" / "lab_key",)
    assert hops[1].known_hosts_name == "[10.1.2.3]:2222"


def test_server_yaml_wins_and_proxy_jump_forms(tmp_path, home):
    (home / ".ssh" / "config").write_text("Host gpu\n  Port 2222\n")
    (home / ".ssh" / "id_ed25519").write_text("")
    data = {**BASE, "port": 22, "proxy_jump": "a@j1:2201,[::1]:2202,j3"}
    assert endpoints.hops(server_config.load(write(tmp_path, data), tmp_path))[-1].port == 2222  # 22: not chosen
    data["port"] = 2022
    hops = endpoints.hops(server_config.load(write(tmp_path, data), tmp_path))
    assert [(h.user, h.hostname, h.port) for h in hops] == [
        ("a", "j1", 2201),
        ("me", "::1", 2202),
        ("me", "j3", 22),
        ("me", "gpu", 2022),
    ]
    assert hops[-1].identity_files == (home / ".ssh" / "id_ed25519",) and hops[-1].known_hosts_name == "[gpu]:2022"


def test_proxy_command_is_refused_with_the_alternative(tmp_path, home):
    (home / ".ssh" / "config").write_text("Host gpu\n  ProxyCommand nc %h %p\n")
    with pytest.raises(ConfigError, match="ProxyJump"):
        endpoints.hops(server_config.load(write(tmp_path, BASE), tmp_path))


# -- host keys ----------------------------------------------------------------------------------
def test_fingerprint_is_openssh_sha256(tmp_path):
    key = tmp_path / "k"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    expected = subprocess.run(["ssh-keygen", "-l", "-f", f"{key}.pub"], capture_output=True, text=True).stdout.split()[
        1
    ]
    assert paramiko.PKey.from_path(key).fingerprint == expected


def test_accept_command_uses_port_and_host():
    hop = endpoints.Hop("gpu", "10.0.0.5", 2222, "me")
    assert hostkeys.accept_command(hop) == "ssh-keyscan -p 2222 10.0.0.5 >> ~/.ssh/known_hosts"


# -- the remote launch line ---------------------------------------------------------------------
def test_remote_wrapper_line_is_golden_and_quotes_hostile_paths():
    work = PurePosixPath("/srv/lab's work dir")
    server = SimpleNamespace(conda=None, env_setup="source ~/venvs/exp/bin/activate")
    argv = envsetup.wrap(shlex.split("bash experiments/code/x/run.sh --lr '0.1 0.2'"), server, None)
    spec = ssh.run_spec("x", argv, work, {"CUDA_VISIBLE_DEVICES": "1"})
    assert str(spec.log) == "/srv/lab's work dir/logs/exp-x.log"
    assert str(spec.exit_file) == "/srv/lab's work dir/experiments/state/x/exit_status"
    line = screen.wrapper_script(spec, PurePosixPath(f"{spec.exit_file}.pid")) + "\n"
    if UPDATE:
        (GOLDEN / "ssh_wrapper.txt").write_text(line)
    assert line == golden("ssh_wrapper.txt"), "regenerate with EXPRUN_UPDATE_GOLDEN=1 if intended"
    done = subprocess.run(["bash", "-n", "-c", line], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_env_wrapper_hides_arguments_from_activate_and_runs_them_intact(tmp_path):
    activate = tmp_path / "activate"
    activate.write_text('echo "activate saw $# args"; export ENTERED=yes\n')
    server = SimpleNamespace(conda=None, env_setup=f"source {shlex.quote(str(activate))}")
    argv = envsetup.wrap(
        ["python3", "-c", "import os,sys; print(os.environ['ENTERED'], sys.argv[1:])", "a b", "it's"], server, None
    )
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["activate saw 0 args", "yes ['a b', \"it's\"]"]


def test_conda_activation_uses_the_remote_home():
    session = SimpleNamespace(remote_path=lambda p: PurePosixPath("/home/me") / p[2:])
    server = SimpleNamespace(conda={"path": "~/mini conda", "env": "exp"}, env_setup=None)
    line = envsetup.activation(server, session)
    assert line.startswith("source '/home/me/mini conda/bin/activate' exp ||")


def test_session_lines_parse_exact_names():
    text = (
        "There are screens on:\n\t123.exp-foo\t(Detached)\n\t456.exp-foo-ablation\t(Detached)\n"
        "2 Sockets in /run/screen/S-me.\n"
    )
    assert screen.parse_sessions(text) == {"exp-foo": 123, "exp-foo-ablation": 456}


def test_remote_error_is_an_exprun_error():
    from exprun.core.errors import ExprunError

    assert issubclass(RemoteError, ExprunError)
