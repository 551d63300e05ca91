"""`exprun wiki <verb>` and `python3 tools/research_wiki.py <verb>` as real subprocesses.

The shim is run with the system python3 (`/usr/bin/env python3` with the project's
virtual environment off PATH), which lacks exprun: it must re-execute itself under
.venv/bin/python and give the same answers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
EXPRUN = VENV_BIN / "exprun"
SHIM = REPO / "tools" / "research_wiki.py"
CNN = "wiki/experiments/digits-cnn-gpu.md"
MLP = "wiki/experiments/digits-mlp-vs-logreg.md"


def system_env() -> dict[str, str]:
    """The environment of a shell where the project's venv is not active."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    venv = VENV_BIN.resolve()
    env["PATH"] = os.pathsep.join(
        part for part in env.get("PATH", "/usr/bin:/bin").split(os.pathsep) if part and Path(part).resolve() != venv
    )
    return env


def system_python_has_exprun(python: list[str]) -> bool:
    probe = subprocess.run([*python, "-c", "import exprun"], env=system_env(), capture_output=True)
    return probe.returncode == 0


RUNNERS = {
    "exprun": [str(EXPRUN), "wiki"],
    "shim": ["/usr/bin/env", "python3", str(SHIM)],
}


@pytest.fixture(params=list(RUNNERS))
def runner(request) -> list[str]:
    if request.param == "exprun" and not EXPRUN.exists():
        pytest.skip(f"{EXPRUN} not installed (run `make install`)")
    return RUNNERS[request.param]


def run(cmd: list[str], *args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*cmd, *args], cwd=cwd, env=env or system_env(), capture_output=True, text=True, timeout=60
    )


def run_json(cmd: list[str], *args: str, cwd: Path, rc: int = 0):
    proc = run(cmd, *args, cwd=cwd)
    assert proc.returncode == rc, (proc.stdout, proc.stderr)
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, f"expected one JSON line, got: {proc.stdout!r} (stderr {proc.stderr!r})"
    return json.loads(lines[0])


def frontmatter(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    return yaml.safe_load(text.split("---\n")[1])


# --------------------------------------------------------------------------- the shim itself


def test_system_python3_really_lacks_exprun():
    """Precondition of the shim tests: otherwise they would not exercise the re-exec."""
    if system_python_has_exprun(["/usr/bin/env", "python3"]):
        pytest.skip("the system python3 can import exprun; the shim's re-exec path is not exercised here")


@pytest.mark.parametrize(
    "python",
    [["/usr/bin/env", "python3"], ["/usr/bin/python3"], []],
    ids=["env-python3", "usr-bin-python3", "shebang"],
)
def test_shim_reexecutes_under_the_venv(example_wiki, python):
    if python and not Path(python[0]).exists():
        pytest.skip(f"{python[0]} not on this machine")
    proc = run([*python, str(SHIM)], "slug", "Small CNN on digits, on one GPU", cwd=example_wiki)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "small-cnn-digits-one-gpu\n", "")
    answer = run_json([*python, str(SHIM)], "read-meta", CNN, "status", cwd=example_wiki)
    assert answer == "planned"


def test_shim_without_venv_says_how_to_install(tmp_path):
    if system_python_has_exprun(["/usr/bin/env", "python3"]):
        pytest.skip("the system python3 can import exprun")
    lonely = tmp_path / "tools" / "research_wiki.py"
    lonely.parent.mkdir()
    shutil.copyfile(SHIM, lonely)
    proc = run(["/usr/bin/env", "python3", str(lonely)], "slug", "x", cwd=tmp_path)
    assert proc.returncode == 1
    assert json.loads(proc.stdout) == {
        "status": "error",
        "message": "exprun is not installed: run `make install` in the exprun folder",
    }


# --------------------------------------------------------------------------- set-meta


def test_set_meta_reports_old_and_new_and_edits_one_line(runner, example_wiki):
    page = example_wiki / CNN
    before = page.read_text().splitlines(keepends=True)
    answer = run_json(runner, "set-meta", CNN, "status", "running", cwd=example_wiki)
    assert answer == {"status": "ok", "field": "status", "old": "planned", "new": "running"}
    after = page.read_text().splitlines(keepends=True)
    assert [(a, b) for a, b in zip(before, after) if a != b] == [
        ("status: planned            # planned | running | completed | abandoned\n",
         "status: running            # planned | running | completed | abandoned\n")
    ]
    answer = run_json(runner, "set-meta", CNN, "remote.server", "gpu-01.lab", cwd=example_wiki)
    assert answer == {"status": "ok", "field": "remote.server", "old": "", "new": "gpu-01.lab"}
    assert frontmatter(page)["remote"]["server"] == "gpu-01.lab"


def test_set_meta_errors_are_json_with_exit_1(runner, example_wiki):
    page = example_wiki / CNN
    before = page.read_bytes()
    answer = run_json(runner, "set-meta", CNN, "no_such_field", "x", cwd=example_wiki, rc=1)
    assert answer["status"] == "error" and set(answer) == {"status", "message"}
    assert "'no_such_field' does not exist" in answer["message"] and CNN in answer["message"]
    answer = run_json(runner, "set-meta", "wiki/experiments/missing.md", "status", "x", cwd=example_wiki, rc=1)
    assert answer == {"status": "error", "message": "wiki/experiments/missing.md: page not found"}
    assert page.read_bytes() == before


def test_set_meta_on_a_page_without_remote_block(runner, example_wiki):
    page = example_wiki / "wiki" / "experiments" / "legacy.md"
    page.write_text("---\ntitle: t\nstatus: planned\n---\n")
    answer = run_json(runner, "set-meta", str(page), "remote.server", "gpu-01", cwd=example_wiki, rc=1)
    assert answer["status"] == "error" and "'remote' is missing" in answer["message"]


def test_set_meta_bad_yaml_names_file_and_line(runner, example_wiki):
    page = example_wiki / "wiki" / "experiments" / "broken.md"
    page.write_text('---\ntitle: "t"\nstatus: planned\nbad: a: b\n---\n')
    answer = run_json(runner, "set-meta", "wiki/experiments/broken.md", "status", "running", cwd=example_wiki, rc=1)
    assert answer["message"].startswith("wiki/experiments/broken.md:4: invalid YAML")


def test_set_meta_create_adds_a_field(runner, example_wiki):
    answer = run_json(runner, "set-meta", CNN, "wandb_run", "abc123", "--create", cwd=example_wiki)
    assert answer == {"status": "ok", "field": "wandb_run", "old": None, "new": "abc123"}
    assert frontmatter(example_wiki / CNN)["wandb_run"] == "abc123"


def test_set_meta_typing(runner, example_wiki):
    page = example_wiki / CNN

    def set_meta(*args):
        answer = run_json(runner, "set-meta", CNN, *args, cwd=example_wiki)
        assert answer["status"] == "ok"
        return answer["new"]

    assert set_meta("estimated_hours", "5") == 5
    assert set_meta("outcome", "no") == "no"
    assert set_meta("remote.gpu", "007") == "007"  # a string field keeps its zeros
    assert set_meta("linked_idea", "yes") == "yes"
    assert set_meta("run_id", "007", "--create") == "007"  # new, non-string field: zeros kept too
    assert set_meta("learning_rate", "0.001", "--create") == 0.001
    assert set_meta("use_amp", "true", "--create") is True
    assert set_meta("key_result", 'Acc 0.97: +1.2 pts over "LR" # best') == 'Acc 0.97: +1.2 pts over "LR" # best'
    meta = frontmatter(page)
    assert meta["estimated_hours"] == 5 and type(meta["estimated_hours"]) is int
    assert meta["outcome"] == "no"
    assert meta["remote"]["gpu"] == "007"
    assert meta["linked_idea"] == "yes"
    assert meta["run_id"] == "007"
    assert meta["learning_rate"] == 0.001
    assert meta["use_amp"] is True
    assert meta["key_result"] == 'Acc 0.97: +1.2 pts over "LR" # best'
    assert "outcome: \"no\"              # succeeded | failed | inconclusive\n" in page.read_text()


def test_set_meta_append_to_list(runner, example_wiki):
    answer = run_json(runner, "set-meta", CNN, "tags", "cnn, small", "--append", cwd=example_wiki)
    assert answer == {
        "status": "ok",
        "field": "tags",
        "old": ["classification", "gpu", "pytorch"],
        "new": ["classification", "gpu", "pytorch", "cnn, small"],
    }
    assert frontmatter(example_wiki / CNN)["tags"] == ["classification", "gpu", "pytorch", "cnn, small"]
    answer = run_json(runner, "set-meta", CNN, "status", "x", "--append", cwd=example_wiki, rc=1)
    assert answer["status"] == "error" and "list" in answer["message"]


# --------------------------------------------------------------------------- read-meta


def test_read_meta_prints_plain_json(runner, example_wiki):
    whole = run_json(runner, "read-meta", MLP, cwd=example_wiki)
    expected = json.loads(json.dumps(frontmatter(example_wiki / MLP), default=str))
    assert whole == expected
    assert whole["date_planned"] == "2026-11-20"
    assert whole["success_criteria"] == [{"metric": "accuracy", "vs": "baseline", "min_delta": 0.005}]
    assert run_json(runner, "read-meta", MLP, "title", cwd=example_wiki) == "MLP vs logistic regression on sklearn digits"
    assert run_json(runner, "read-meta", MLP, "remote", cwd=example_wiki)["server"] == ""
    assert run_json(runner, "read-meta", MLP, "setup.hardware", cwd=example_wiki) == "cpu"
    assert run_json(runner, "read-meta", MLP, "estimated_hours", cwd=example_wiki) == 0
    answer = run_json(runner, "read-meta", MLP, "nope", cwd=example_wiki, rc=1)
    assert answer == {"status": "error", "message": f"{MLP}: field 'nope' does not exist"}


def test_read_meta_keeps_unicode_readable(runner, example_wiki):
    page = example_wiki / "wiki" / "experiments" / "unicode.md"
    page.write_text('---\ntitle: "ΔpTernary ≈ 5× — γ"\nstatus: planned\n---\n', encoding="utf-8")
    proc = run(runner, "read-meta", str(page), "title", cwd=example_wiki)
    assert proc.stdout == '"ΔpTernary ≈ 5× — γ"\n'


# --------------------------------------------------------------------------- log, slug, transition


def test_log_appends_a_dated_line(runner, example_wiki):
    log = example_wiki / "wiki" / "log.md"
    before = log.read_text()
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    answer = run_json(runner, "log", "wiki", "exp-run | digits-cnn-gpu deployed on gpu-01", cwd=example_wiki)
    assert answer["status"] == "ok"
    assert answer["line"] in (f"## [{today}] exp-run | digits-cnn-gpu deployed on gpu-01",
                              f"## [{datetime.now(timezone.utc):%Y-%m-%d}] exp-run | digits-cnn-gpu deployed on gpu-01")
    assert log.read_text() == before + answer["line"] + "\n"


def test_log_creates_missing_log(runner, tmp_path):
    answer = run_json(runner, "log", str(tmp_path / "wiki"), "first entry", cwd=tmp_path)
    text = (tmp_path / "wiki" / "log.md").read_text()
    assert text.startswith("# Wiki Log\n") and text.endswith(answer["line"] + "\n")


def test_slug(runner, tmp_path):
    proc = run(runner, "slug", "The Effect of Dropout on a Small MLP for MNIST", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, "effect-dropout-small-mlp-mnist\n")


def test_transition(runner, example_wiki):
    answer = run_json(runner, "transition", CNN, "--to", "running", cwd=example_wiki)
    assert answer == {"status": "ok", "field": "status", "old": "planned", "new": "running"}
    answer = run_json(runner, "transition", CNN, "--to", "completed", cwd=example_wiki, rc=1)
    assert answer["status"] == "error" and "'key_result' is empty" in answer["message"]
    run_json(runner, "set-meta", CNN, "key_result", "CNN 0.98 vs LR 0.96", cwd=example_wiki)
    answer = run_json(runner, "transition", CNN, "--to", "completed", cwd=example_wiki)
    assert answer == {"status": "ok", "field": "status", "old": "running", "new": "completed"}
    meta = frontmatter(example_wiki / CNN)
    assert meta["status"] == "completed" and meta["date_completed"]
    answer = run_json(runner, "transition", CNN, "--to", "running", cwd=example_wiki, rc=1)
    assert "cannot go from 'completed' to 'running'" in answer["message"]
    proc = run(runner, "transition", CNN, "--to", "finished", cwd=example_wiki)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
