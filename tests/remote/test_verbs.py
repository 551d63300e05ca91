"""Every verb end to end against a real sshd and real screen, in folders with hostile names."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from exprun.cli import remote as cli
from exprun.cli import remote_verbs as verbs
from exprun.core.errors import RemoteError
from exprun.machines.launchers import ssh
from exprun.prepare.codegen import manifest
from exprun.remote import sync
from exprun.remote.session import RemoteSession

from .conftest import SLUG

NAME = f"exp-{SLUG}"


def answer(lab, capsys, *argv: str) -> tuple[int, dict]:
    code = cli.main([*argv, "--root", str(lab.root)])
    return code, json.loads(capsys.readouterr().out)


def ok(lab, capsys, *argv: str) -> dict:
    code, data = answer(lab, capsys, *argv)
    assert code == 0 and data["status"] == "ok", data
    return data


def wait_state(lab, capsys, wanted: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        data = ok(lab, capsys, "check", "--name", NAME)
        if data["state"] == wanted or time.monotonic() > deadline:
            return data
        time.sleep(0.1)


def parts_left(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".exprun-part")]


# -- gpu-status ---------------------------------------------------------------------------------
def test_gpu_status_without_nvidia_smi_is_a_clear_answer(lab, capsys):
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has nvidia-smi; the 'absent' case needs a server without it")
    data = ok(lab, capsys, "gpu-status")
    assert data["gpus"] == [] and data["message"] == "no GPU visible on 127.0.0.1: nvidia-smi not found"


def test_gpu_status_parses_the_servers_nvidia_smi(lab, capsys, four_gpu_server):
    data = ok(lab, capsys, "gpu-status")
    assert [g["index"] for g in data["gpus"]] == [0, 1, 2, 3] and data["free"] == [0]
    assert data["gpus"][1]["processes"] == [51234, 51240] and "message" not in data


# -- sync-code ----------------------------------------------------------------------------------
def test_sync_uploads_code_only_incrementally_and_the_remote_hash_matches(lab, capsys):
    data = ok(lab, capsys, "sync-code", "--slug", SLUG)
    local_hash = manifest.folder_hash(lab.code)
    assert data["hashes"] == {SLUG: local_hash}
    uploaded = {Path(p).name for p in data["uploaded"]}
    assert uploaded == {
        "run.sh",
        "train.py",
        "config.yaml",
        "requirements.txt",
        'my "odd" file\'s name.txt',
        "helper.py",
    }
    assert (lab.remote_code / 'my "odd" file\'s name.txt').read_text() == "quoted\n"
    local, remote = lab.code / "train.py", lab.remote_code / "train.py"
    assert int(remote.stat().st_mtime) == int(local.stat().st_mtime)
    assert ok(lab, capsys, "sync-code", "--slug", SLUG)["uploaded"] == []
    local.write_text("print('changed')\n")
    data = ok(lab, capsys, "sync-code", "--slug", SLUG)
    assert data["uploaded"] == [f"experiments/code/{SLUG}/train.py"]
    assert data["hashes"][SLUG] == manifest.folder_hash(lab.code) != local_hash
    with RemoteSession(lab.server()) as session:
        assert sync.remote_code_hash(session, SLUG) == manifest.folder_hash(lab.code)


def test_remote_edit_is_caught_and_launch_refused(lab, capsys):
    ok(lab, capsys, "sync-code", "--slug", SLUG)
    (lab.remote_code / "extra.py").write_text("import os\n")  # someone adds code on the server
    code, data = answer(lab, capsys, "launch", "--name", NAME, "--cmd", f"bash experiments/code/{SLUG}/run.sh")
    assert code == 1 and data["message"].startswith("remote code differs from the approved code")
    assert not (lab.work_dir / "logs").exists()  # nothing was started
    code, data = answer(lab, capsys, "sync-code", "--slug", SLUG, "--expected-hash", "0" * 64)
    assert code == 1 and "remote code differs from the approved code" in data["message"]


def test_interrupted_sync_leaves_no_partial_file_and_a_rerun_completes(lab):
    big = lab.code / "weights_table.py"
    big.write_bytes(os.urandom(3 * 2**20))
    server = lab.server()

    def drop(rel: str, done: int, total: int) -> None:
        if rel.endswith("weights_table.py") and 0 < done < total:
            session.transport.close()  # the connection dies in the middle of this file

    with pytest.raises(RemoteError, match="lost"):
        with RemoteSession(server) as session:
            verbs.sync_code(session, server, lab.root, SLUG, on_progress=drop)
    assert not (lab.remote_code / "weights_table.py").exists()  # never visible half-written
    with RemoteSession(server) as session:
        data = verbs.sync_code(session, server, lab.root, SLUG)
    assert f"experiments/code/{SLUG}/weights_table.py" in data["uploaded"]
    assert (lab.remote_code / "weights_table.py").read_bytes() == big.read_bytes()
    assert parts_left(lab.work_dir) == []
    assert data["hashes"][SLUG] == manifest.folder_hash(lab.code)


def test_unpulled_results_survive_sync_and_protected_folders_are_never_written(lab, capsys):
    for rel in (f"results/{SLUG}/seed_0.json", f"logs/exp-{SLUG}.log", f"checkpoints/{SLUG}/last.pt"):
        (lab.work_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (lab.work_dir / rel).write_text("remote only\n")
    (lab.root / "results" / SLUG).mkdir(parents=True)
    (lab.root / "results" / SLUG / "seed_0.json").write_text("local stale copy\n")
    (lab.root / "shared lib").mkdir()
    (lab.root / "shared lib" / "util's.py").write_text("U = 1\n")
    (lab.root / "shared lib" / "scratch.tmp").write_text("no\n")
    lab.write_config(sync={"include": ["shared lib/*", "results/**/*.json"], "exclude": ["*.tmp"]})
    first = ok(lab, capsys, "sync-code", "--slug", SLUG)
    second = ok(lab, capsys, "sync-code", "--slug", SLUG)
    assert first["protected_skipped"] == [f"results/{SLUG}/seed_0.json"] and first["excluded"] == [
        "shared lib/scratch.tmp"
    ]
    assert "shared lib/util's.py" in first["uploaded"] and second["uploaded"] == []
    assert (lab.work_dir / "shared lib" / "util's.py").exists() and not (
        lab.work_dir / "shared lib" / "scratch.tmp"
    ).exists()
    for rel in (f"results/{SLUG}/seed_0.json", f"logs/exp-{SLUG}.log", f"checkpoints/{SLUG}/last.pt"):
        assert (lab.work_dir / rel).read_text() == "remote only\n"


def test_sync_include_selects_as_rsync_so_shared_code_reaches_the_server(lab, capsys):
    """The wiki's own server.yaml patterns: `*.py` at any depth (a shared src/ folder goes with the experiment),
    `data/` keeps a whole folder back, exprun's bookkeeping never goes."""
    for rel in ("src/common/util.py", "src/common/notes.md", "data/prep.py", "experiments/state/x/state.py"):
        (lab.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (lab.root / rel).write_text("X = 1\n")
    lab.write_config(sync={"include": ["*.py", "requirements*.txt"], "exclude": ["data/", "*.pyc"]})
    data = ok(lab, capsys, "sync-code", "--slug", SLUG)
    assert "src/common/util.py" in data["uploaded"] and (lab.work_dir / "src" / "common" / "util.py").exists()
    for rel in ("src/common/notes.md", "data/prep.py", "experiments/state/x/state.py"):
        assert not (lab.work_dir / rel).exists(), rel
    assert data["hashes"][SLUG] == manifest.folder_hash(lab.code)


# -- setup-env ----------------------------------------------------------------------------------
def test_setup_env_installs_only_when_requirements_change(lab, capsys):
    lab.write_config(env_setup='pip() { echo "fake pip $*"; for i in $(seq 1 30); do echo "line $i"; done; }')
    ok(lab, capsys, "sync-code", "--slug", SLUG)
    first = ok(lab, capsys, "setup-env", "--slug", SLUG)
    assert first["installed"] and first["reason"] == "first install"
    assert len(first["output_tail"]) == 20 and first["output_tail"][-1] == "line 30"
    assert not ok(lab, capsys, "setup-env", "--slug", SLUG)["installed"]
    (lab.code / "requirements.txt").write_text("numpy\npyyaml\n")
    ok(lab, capsys, "sync-code", "--slug", SLUG)
    again = ok(lab, capsys, "setup-env", "--slug", SLUG)
    assert again["installed"] and again["reason"] == "requirements changed"
    marker = json.loads((lab.work_dir / ".exprun" / "setup-env" / f"{SLUG}.json").read_text())
    assert marker["requirements_sha256"] == again["requirements_sha256"]


def test_setup_env_with_conda_runs_conda_run(lab, capsys, tmp_path):
    conda = tmp_path / "mini conda"
    (conda / "bin").mkdir(parents=True)
    (conda / "bin" / "conda").write_text('#!/bin/sh\nfor a in "$@"; do echo "[$a]"; done\n')
    (conda / "bin" / "conda").chmod(0o755)
    lab.write_config(env_setup=None, conda={"path": str(conda), "env": "my env"})
    ok(lab, capsys, "sync-code", "--slug", SLUG)
    data = ok(lab, capsys, "setup-env", "--slug", SLUG)
    requirements = lab.remote_code / "requirements.txt"
    assert data["output_tail"] == ["[run]", "[-n]", "[my env]", "[pip]", "[install]", "[-r]", f"[{requirements}]"]


def test_setup_env_failure_reports_the_tail_and_remembers_nothing(lab, capsys):
    lab.write_config(env_setup='pip() { echo "ERROR: No matching distribution found for numpy"; return 1; }')
    ok(lab, capsys, "sync-code", "--slug", SLUG)
    code, data = answer(lab, capsys, "setup-env", "--slug", SLUG)
    assert code == 1 and "No matching distribution" in data["message"]
    assert not (lab.work_dir / ".exprun" / "setup-env" / f"{SLUG}.json").exists()


# -- launch, check, tail-log, pull-results ------------------------------------------------------
def test_launch_check_and_pull_end_to_end(lab, capsys):
    ok(lab, capsys, "sync-code", "--slug", SLUG)
    before = RemoteSession.transports_opened
    launched = ok(
        lab, capsys, "launch", "--name", NAME, "--cmd", f"bash experiments/code/{SLUG}/run.sh 'two words'", "--gpu", "0"
    )
    assert RemoteSession.transports_opened - before == 1  # verify + launch on one connection
    assert launched["command"] == ["bash", f"experiments/code/{SLUG}/run.sh", "two words"] and launched["guarded"]
    assert launched["code_hash"] == manifest.folder_hash(lab.code) and launched["session"] == NAME
    assert launched["log"] == str(lab.work_dir / "logs" / f"exp-{SLUG}.log")
    done = wait_state(lab, capsys, "exited")
    assert (done["state"], done["exit_code"], done["alive"], done["anomalies"]) == ("exited", 0, False, [])
    assert done["progress"]["step"] == 3 and done["progress"]["total"] == 3
    assert done["tail"][0] == "env=on gpu=0 args=two words"
    tail = ok(lab, capsys, "tail-log", "--name", NAME, "--lines", "2")
    assert tail["lines"] == ["step 2/3 epoch 0 loss=0.2 accuracy=0.92", "step 3/3 epoch 0 loss=0.1 accuracy=0.93"]

    (lab.work_dir / "results" / SLUG / "model.pt").write_bytes(b"weights")
    pulled = ok(lab, capsys, "pull-results", "--remote-path", f"results/{SLUG}/", "--local-path", f"./results/{SLUG}/")
    assert pulled["downloaded"] == ["seed_0.json"] and pulled["skipped_weights"] == ["model.pt"]
    seed = lab.root / "results" / SLUG / "seed_0.json"
    assert json.loads(seed.read_text())["metrics"] == {"accuracy": 0.93}
    assert int(seed.stat().st_mtime) == int((lab.work_dir / "results" / SLUG / "seed_0.json").stat().st_mtime)
    again = ok(
        lab,
        capsys,
        "pull-results",
        "--remote-path",
        f"results/{SLUG}/",
        "--local-path",
        f"./results/{SLUG}/",
        "--include-weights",
    )
    assert again["unchanged"] == ["seed_0.json"] and again["downloaded"] == ["model.pt"]
    log = ok(lab, capsys, "pull-results", "--remote-path", f"logs/exp-{SLUG}.log", "--local-path", "./logs/")
    assert log["downloaded"] == [f"exp-{SLUG}.log"]
    assert "step 3/3" in (lab.root / "logs" / f"exp-{SLUG}.log").read_text()
    assert list((lab.root / "results" / SLUG).glob(".*")) == []  # no temp file left behind


def test_duplicate_launch_refused_and_a_killed_run_is_lost(lab, capsys):
    (lab.code / "run.sh").write_text("echo started; sleep 30\n")
    ok(lab, capsys, "sync-code", "--slug", SLUG)
    cmd = f"bash experiments/code/{SLUG}/run.sh"
    ok(lab, capsys, "launch", "--name", NAME, "--cmd", cmd)
    running = ok(lab, capsys, "check", "--name", SLUG)
    assert running["state"] == "running" and running["alive"]
    code, data = answer(lab, capsys, "launch", "--name", NAME, "--cmd", cmd)
    assert code == 1 and f"a screen session named {NAME} already exists" in data["message"]
    with RemoteSession(lab.server()) as session:
        record = ssh.load_record(SLUG, session)
        ssh.stop(record, session)
        assert ssh.state(record, session).state == "lost"
    lost = ok(lab, capsys, "check", "--name", NAME)
    assert lost["state"] == "lost" and [a["kind"] for a in lost["anomalies"]] == ["lost"]


def test_failing_run_reports_exit_status_and_traceback(lab, capsys):
    (lab.code / "run.sh").write_text(
        "echo 'step 1/5 loss=0.5'\necho 'Traceback (most recent call last):'\necho '  File \"train.py\"'\n"
        "echo 'ValueError: bad shape'\nexit 3\n"
    )
    ok(lab, capsys, "sync-code", "--slug", SLUG)
    ok(lab, capsys, "launch", "--name", NAME, "--cmd", f"bash experiments/code/{SLUG}/run.sh")
    done = wait_state(lab, capsys, "exited")
    assert done["exit_code"] == 3
    assert [a["kind"] for a in done["anomalies"]] == ["traceback"] and "ValueError" in done["anomalies"][0]["detail"]


def test_check_of_an_unknown_run_and_bad_arguments(lab, capsys):
    code, data = answer(lab, capsys, "check", "--name", "exp-never-launched")
    assert (
        code == 1
        and "no session exp-never-launched on" in data["message"]
        and "was it launched there?" in data["message"]
    )
    code, data = answer(lab, capsys, "launch", "--name", "exp-Bad Name", "--cmd", "true")
    assert code == 1 and "invalid slug" in data["message"]
    code, data = answer(lab, capsys, "launch", "--name", "exp-other", "--cmd", "echo 'unclosed")
    assert code == 1 and "cannot be split" in data["message"]
    code, data = answer(lab, capsys, "pull-results", "--remote-path", "results/none/", "--local-path", "x/")
    assert code == 1 and "does not exist" in data["message"]


def test_the_server_checks_the_code_itself_when_the_run_starts(lab, capsys):
    """Someone edits run.sh on the server after the sync: the guard in front of it starts nothing."""
    from exprun.remote import server_config
    from exprun.trust import integrity

    ok(lab, capsys, "sync-code", "--slug", SLUG)
    approved = manifest.folder_hash(lab.code)
    remote_run = lab.work_dir / "experiments" / "code" / SLUG / "run.sh"
    remote_run.write_text('touch "$(dirname "$0")/ran-unapproved"\n')
    server = server_config.load(server_config.config_path(lab.root, None), lab.root)
    with RemoteSession(server) as session:
        code = f"experiments/code/{SLUG}"
        guarded = integrity.guard_command("python3", code, approved, ["bash", f"{code}/run.sh"])
        record = ssh.launch(ssh.run_spec(SLUG, guarded, session.work_dir), session)
    done = wait_state(lab, capsys, "exited")
    assert done["exit_code"] == 96 and record.command[:3] == ["python3", "-I", "-c"]
    assert not (remote_run.parent / "ran-unapproved").exists()
    assert any("not the approved code" in line for line in done["tail"])
    assert [a["kind"] for a in done["anomalies"]] == ["guard_refused"]


# -- the wiki's own remote.py keys, and runs exprun did not launch -------------------------------
def test_answers_carry_the_wiki_tools_keys(lab, capsys, fakebin):
    golden = Path(__file__).resolve().parents[1] / "golden" / "remote"
    fake = fakebin / "nvidia-smi"
    fake.write_text(f"""#!/bin/sh
case "$1" in
  --query-gpu=index,uuid) cat '{golden}/nvidia_smi_4gpu_uuids.csv' ;;
  --query-gpu=*) sed 's/$/, 41/' '{golden}/nvidia_smi_4gpu_gpus.csv' ;;
  --query-compute-apps=*) cat '{golden}/nvidia_smi_4gpu_apps.csv' ;;
esac
""")
    fake.chmod(0o755)
    try:
        gpus = ok(lab, capsys, "--config", str(lab.config), "gpu-status")  # --config before the verb
    finally:
        fake.unlink()
    first = gpus["gpus"][0]
    assert {
        "index",
        "name",
        "memory_used_mib",
        "memory_total_mib",
        "free_memory_mib",
        "utilization",
        "temperature_c",
        "free",
    } <= set(first) and first["temperature_c"] == 41
    assert first["free_memory_mib"] == first["memory_total_mib"] - first["memory_used_mib"]
    assert gpus["free_gpus"] == [0] and gpus["total_free_memory_mib"] == first["free_memory_mib"]

    dry = ok(lab, capsys, "sync-code", "--slug", SLUG, "--dry-run")
    assert dry["dry_run"] is True and dry["files_transferred"] >= 1 and dry["remote_path"] == str(lab.work_dir)
    assert not (lab.work_dir / "experiments").exists(), "a dry run uploads nothing"
    synced = ok(lab, capsys, "sync-code", "--slug", SLUG, "--local-path", str(lab.root))
    assert synced["files_transferred"] == dry["files_transferred"] and synced["dry_run"] is False

    (lab.root / "reqs").mkdir()
    (lab.root / "reqs" / "extra.txt").write_text("# nothing to install\n")
    env = ok(lab, capsys, "setup-env", "--requirements", "reqs/extra.txt")
    assert env["requirements"] == "reqs/extra.txt" and isinstance(env["pip_output_tail"], list)
    assert (lab.work_dir / "reqs" / "extra.txt").read_text() == "# nothing to install\n"

    launched = ok(
        lab,
        capsys,
        "launch",
        "--name",
        NAME,
        "--cmd",
        f"bash experiments/code/{SLUG}/run.sh",
        "--log-file",
        "logs/custom.log",
    )
    assert (launched["session"], launched["gpu"], launched["log_file"]) == (NAME, "all", "logs/custom.log")
    assert launched["verified"] is True and "run.sh" in launched["remote_cmd"]
    done = wait_state(lab, capsys, "exited")
    assert done["alive"] is False and done["exit_reason"] == "completed" and done["log_file"] == "logs/custom.log"
    assert done["last_lines"][-1].startswith("step 3/3") and len(done["last_lines"]) <= 20
    assert (lab.work_dir / "logs" / "custom.log").exists()

    pulled = ok(lab, capsys, "pull-results", "--remote-path", f"results/{SLUG}/", "--local-path", f"./results/{SLUG}/")
    assert pulled["files_transferred"] == 1 and pulled["local_path"].endswith(f"results/{SLUG}")


def test_a_session_exprun_did_not_launch_is_checked_by_name_and_log(lab, capsys):
    """The wiki's agent started `screen -dmS exp-<slug>` itself: no run record anywhere."""
    import shlex
    import subprocess

    (lab.work_dir / "logs").mkdir()
    log = lab.work_dir / "logs" / f"{NAME}.log"
    script = (
        "echo 'step 1/9 loss=0.7'; echo 'step 2/9 loss=nan'; echo 'Traceback (most recent call last):';"
        " echo '  File \"train.py\", line 3'; echo 'RuntimeError: CUDA out of memory'; sleep 30"
    )
    subprocess.run(["screen", "-dmS", NAME, "bash", "-c", f"({script}) > {shlex.quote(str(log))} 2>&1"], check=True)
    for _ in range(100):
        if log.exists() and "CUDA" in log.read_text():
            break
        time.sleep(0.05)
    data = ok(lab, capsys, "check", "--name", NAME)
    assert data["alive"] is True and data["launched_by_exprun"] is False and data["session"] == NAME
    assert data["log_file"] == f"logs/{NAME}.log" and data["last_lines"][0] == "step 1/9 loss=0.7"
    by_type = {a["type"]: a for a in data["anomalies"]}
    assert by_type["NaN detected"]["line_number"] == 1 and by_type["NaN detected"]["content"] == "step 2/9 loss=nan"
    assert by_type["OOM"]["content"] == "RuntimeError: CUDA out of memory"
    tail = ok(lab, capsys, "tail-log", "--name", NAME)
    assert (tail["source"], tail["line_count"], tail["session"]) == ("log_file", 5, NAME)
    subprocess.run(["screen", "-S", NAME, "-X", "quit"], check=True)
    time.sleep(0.2)
    ended = ok(lab, capsys, "check", "--name", NAME)
    assert ended["alive"] is False and ended["exit_reason"] == "crashed" and ended["state"] == "ended"
