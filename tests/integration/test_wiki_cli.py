"""`exprun wiki <verb>` and `python3 tools/research_wiki.py <verb>` as real subprocesses.

The shim runs under the system python3 (`/usr/bin/env python3`, with the project's
virtual environment off PATH), which lacks exprun: it must re-execute itself under
.venv/bin/python and answer exactly like `exprun wiki`.

Every command is a real process. To keep the suite fast, all scenarios start at once
in one module fixture (each in its own copy of the example wiki, the steps of one
scenario in order); the tests then check what each scenario printed and left on disk.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
EXPRUN = VENV_BIN / "exprun"
SHIM = REPO / "tools" / "research_wiki.py"
EXAMPLE_WIKI = REPO / "examples" / "wiki"
CNN = "wiki/experiments/digits-cnn-gpu.md"
MLP = "wiki/experiments/digits-mlp-vs-logreg.md"
STATUS_LINE = "status: {}\n"

# The two entry points the issue names; every verb is checked through both.
RUNNERS = {
    "exprun": [str(EXPRUN), "wiki"],
    "shim": ["/usr/bin/env", "python3", str(SHIM)],
}
# Further cases go through the shim under the venv's python (same code, no re-exec: fast).
DIRECT = "venv-shim"
DIRECT_CMD = [str(VENV_BIN / "python"), str(SHIM)]
# Other ways an agent may start the shim: another system interpreter, or its shebang.
SHIM_VARIANTS = {
    "usr-bin-python3": ["/usr/bin/python3", str(SHIM)],
    "shebang": [str(SHIM)],
}


def system_env() -> dict[str, str]:
    """The environment of a shell where the project's venv is not active."""
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    venv = VENV_BIN.resolve()
    parts = env.get("PATH", "/usr/bin:/bin").split(os.pathsep)
    env["PATH"] = os.pathsep.join(p for p in parts if p and Path(p).resolve() != venv)
    return env


@dataclass
class Run:
    args: tuple[str, ...]
    rc: int
    stdout: str
    stderr: str

    def json(self):
        lines = self.stdout.splitlines()
        assert len(lines) == 1, f"expected one JSON line from {self.args}, got {self.stdout!r} (stderr {self.stderr!r})"
        return json.loads(lines[0])

    def ok(self):
        assert self.rc == 0, (self.args, self.stdout, self.stderr)
        answer = self.json()
        return answer

    def error(self):
        assert self.rc == 1, (self.args, self.stdout, self.stderr)
        answer = self.json()
        assert answer["status"] == "error" and set(answer) == {"status", "message"}, answer
        assert "\n" not in answer["message"]
        return answer


# Scenarios: name -> (files to write first, steps). Steps run in order in one wiki copy.
LEGACY_PAGE = ("wiki/experiments/legacy.md", "---\ntitle: t\nstatus: planned\n---\n")
BROKEN_PAGE = ("wiki/experiments/broken.md", '---\ntitle: "t"\nstatus: planned\nbad: a: b\n---\n')
UNICODE_PAGE = ("wiki/experiments/unicode.md", '---\ntitle: "ΔpTernary ≈ 5× — γ"\nstatus: planned\n---\n')
HOSTILE_TEXT = 'Acc 0.97: +1.2 pts over "LR" # best'
IDEA = "wiki/ideas/small-mlp-beats-linear-on-digits.md"
# A person's comments on the edited lines are kept by every edit.
COMMENTED_PAGE = (
    "wiki/experiments/commented.md",
    '---\ntitle: "t"\nstatus: planned   # planned | running\noutcome: ""   # the verdict\n---\n',
)
# The wiki's own research_wiki.py (a stand-in that says what it was asked): verbs exprun lacks go there.
WIKI_TOOL = (
    "tools/research_wiki.py",
    "import json, sys\nprint(json.dumps({'status': 'ok', 'wiki_tool': sys.argv[1:]}))\n",
)

# Run through both entry points.
CORE: dict[str, tuple[list[tuple[str, str]], list[tuple[str, ...]]]] = {
    "set-status": ([], [("set-meta", CNN, "status", "running")]),
    "set-error": ([], [("set-meta", CNN, "no_such_field", "x")]),
    "typing": (
        [],
        [
            ("set-meta", CNN, "estimated_hours", "5"),
            ("set-meta", CNN, "outcome", "no"),
            ("set-meta", CNN, "remote.gpu", "007"),
            ("set-meta", CNN, "tags", "cnn, small", "--append"),
        ],
    ),
    "read-meta": ([], [("read-meta", MLP), ("read-meta", MLP, "setup.hardware")]),
    "log-slug": (
        [],
        [
            ("log", "wiki", "exp-run | digits-cnn-gpu deployed on gpu-01"),
            ("slug", "The Effect of Dropout on a Small MLP for MNIST"),
        ],
    ),
    "transition": ([], [("transition", CNN, "--to", "running")]),
}
# Run through the venv's python only.
MORE: dict[str, tuple[list[tuple[str, str]], list[tuple[str, ...]]]] = {
    "set-errors": (
        [LEGACY_PAGE, BROKEN_PAGE],
        [
            ("set-meta", "wiki/experiments/missing.md", "status", "x"),
            ("set-meta", LEGACY_PAGE[0], "remote.server", "gpu-01"),
            ("set-meta", BROKEN_PAGE[0], "status", "running"),
            ("set-meta", CNN, "status", "x", "--append"),
        ],
    ),
    "typing-more": (
        [],
        [
            ("set-meta", CNN, "remote.server", "gpu-01.lab"),
            ("set-meta", CNN, "linked_idea", "yes"),
            ("set-meta", CNN, "run_id", "007", "--create"),
            ("set-meta", CNN, "learning_rate", "0.001", "--create"),
            ("set-meta", CNN, "use_amp", "true", "--create"),
            ("set-meta", CNN, "key_result", HOSTILE_TEXT),
            ("set-meta", CNN, "tags", "gpu", "--append"),
        ],
    ),
    "comments-kept": (
        [COMMENTED_PAGE],
        [("set-meta", COMMENTED_PAGE[0], "status", "running"), ("set-meta", COMMENTED_PAGE[0], "outcome", "no")],
    ),
    "hand-over": (
        [WIKI_TOOL],
        [
            ("add-edge", "--from", "a", "--to", "b", "--type", "supports"),
            ("transition", IDEA, "--to", "in_progress"),
            ("transition", CNN, "--to", "running", "--reason", "retry"),
        ],
    ),
    "no-wiki-tool": ([], [("add-edge", "--from", "a", "--to", "b"), ("transition", IDEA, "--to", "in_progress")]),
    "read-more": (
        [UNICODE_PAGE],
        [
            ("read-meta", MLP, "title"),
            ("read-meta", MLP, "remote"),
            ("read-meta", MLP, "estimated_hours"),
            ("read-meta", MLP, "nope"),
            ("read-meta", UNICODE_PAGE[0], "title"),
        ],
    ),
    "log-new": ([], [("log", "new-wiki", "first entry")]),
    "transition-chain": (
        [],
        [
            ("transition", CNN, "--to", "running"),
            ("transition", CNN, "--to", "completed"),
            ("set-meta", CNN, "key_result", "CNN 0.98 vs LR 0.96"),
            ("transition", CNN, "--to", "completed"),
            ("transition", CNN, "--to", "running"),
            ("transition", CNN, "--to", "finished"),
        ],
    ),
}
VARIANT_STEPS = [("slug", "Small CNN on digits, on one GPU"), ("read-meta", CNN, "status")]


class CliRuns:
    def __init__(self, base: Path):
        self.base = base
        self.runs: dict[tuple[str, str], list[Run]] = {}

    def root(self, runner: str, scenario: str) -> Path:
        return self.base / runner / scenario

    def __call__(self, runner: str, scenario: str) -> list[Run]:
        return self.runs[(runner, scenario)]


def _play(cmd: list[str], root: Path, files, steps) -> list[Run]:
    shutil.copytree(EXAMPLE_WIKI, root)
    for rel, text in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    env = system_env()
    out = []
    for step in steps:
        proc = subprocess.run([*cmd, *step], cwd=root, env=env, capture_output=True, text=True, timeout=120)
        out.append(Run(step, proc.returncode, proc.stdout, proc.stderr))
    return out


@pytest.fixture(scope="module")
def cli(tmp_path_factory) -> CliRuns:
    runs = CliRuns(tmp_path_factory.mktemp("cli"))
    jobs = {}
    with ThreadPoolExecutor(max_workers=8) as pool:
        for runner, cmd in RUNNERS.items():
            for name, (files, steps) in CORE.items():
                jobs[(runner, name)] = pool.submit(_play, cmd, runs.root(runner, name), files, steps)
        for name, (files, steps) in MORE.items():
            jobs[(DIRECT, name)] = pool.submit(_play, DIRECT_CMD, runs.root(DIRECT, name), files, steps)
        for runner, cmd in SHIM_VARIANTS.items():
            if Path(cmd[0]).exists():
                jobs[(runner, "variant")] = pool.submit(_play, cmd, runs.root(runner, "variant"), [], VARIANT_STEPS)
        for key, job in jobs.items():
            runs.runs[key] = job.result()
    return runs


@pytest.fixture(params=list(RUNNERS))
def runner(request) -> str:
    return request.param


def frontmatter(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8").split("---\n")[1])


# --------------------------------------------------------------------------- the shim itself


def system_python_lacks_exprun() -> bool:
    probe = subprocess.run(["/usr/bin/env", "python3", "-c", "import exprun"], env=system_env(), capture_output=True)
    return probe.returncode != 0


def test_a_python3_without_exprun_still_gets_an_answer_through_the_venv():
    """An agent runs the shim with whatever python3 is first on PATH: the shim must re-execute under .venv."""
    if not system_python_lacks_exprun():
        pytest.skip("the system python3 can import exprun here; the shim's re-exec path is not exercised")
    proc = subprocess.run(
        ["/usr/bin/env", "python3", str(SHIM), "slug", "Small CNN on digits"],
        env=system_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "small-cnn-digits\n", "")


@pytest.mark.parametrize("variant", list(SHIM_VARIANTS))
def test_shim_reexecutes_under_the_venv_however_started(cli, variant):
    if (variant, "variant") not in cli.runs:
        pytest.skip(f"{SHIM_VARIANTS[variant][0]} not on this machine")
    slug, status = cli(variant, "variant")
    assert (slug.rc, slug.stdout, slug.stderr) == (0, "small-cnn-digits-one-gpu\n", "")
    assert status.ok() == "planned"


def test_shim_without_venv_says_how_to_install(tmp_path):
    if not system_python_lacks_exprun():
        pytest.skip("the system python3 can import exprun")
    lonely = tmp_path / "tools" / "research_wiki.py"
    shutil.copytree(SHIM.parent, lonely.parent)  # the tools folder as shipped, without a .venv beside it
    proc = subprocess.run(
        ["/usr/bin/env", "python3", str(lonely), "slug", "x"],
        cwd=tmp_path,
        env=system_env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert json.loads(proc.stdout) == {
        "status": "error",
        "message": "exprun is not installed: run `make install` in the exprun folder",
    }


def test_both_entry_points_answer_alike(cli):
    for name, (_, steps) in CORE.items():
        for index, step in enumerate(steps):
            ours, theirs = cli("exprun", name)[index], cli("shim", name)[index]
            if step[0] != "log":  # the log line carries today's date
                assert (ours.rc, ours.stdout) == (theirs.rc, theirs.stdout), step


# --------------------------------------------------------------------------- set-meta


def test_set_meta_reports_old_and_new_and_edits_one_line(cli, runner):
    (status,) = cli(runner, "set-status")
    assert status.ok() == {
        "status": "ok",
        "field": "status",
        "old": "planned",
        "new": "running",
        "action": "set",
        "old_value": "planned",
        "value": "running",
    }
    before = (EXAMPLE_WIKI / CNN).read_text().splitlines(keepends=True)
    after = (cli.root(runner, "set-status") / CNN).read_text().splitlines(keepends=True)
    assert len(after) == len(before)
    assert [(a, b) for a, b in zip(before, after, strict=False) if a != b] == [
        (STATUS_LINE.format("planned"), STATUS_LINE.format("running"))
    ]


def test_set_meta_nested_field_edits_one_line(cli):
    server = cli(DIRECT, "typing-more")[0]
    assert server.ok() == {
        "status": "ok",
        "field": "remote.server",
        "old": "",
        "new": "gpu-01.lab",
        "action": "set",
        "old_value": "",
        "value": "gpu-01.lab",
    }
    assert '  server: "gpu-01.lab"\n' in (cli.root(DIRECT, "typing-more") / CNN).read_text()


def test_set_meta_error_is_json_with_exit_1(cli, runner):
    (missing_field,) = cli(runner, "set-error")
    message = missing_field.error()["message"]
    assert message.startswith(CNN) and "'no_such_field' does not exist" in message and "--create" in message
    assert (cli.root(runner, "set-error") / CNN).read_bytes() == (EXAMPLE_WIKI / CNN).read_bytes()


def test_set_meta_more_errors(cli):
    missing_page, no_remote, bad_yaml, append_scalar = cli(DIRECT, "set-errors")
    assert missing_page.error() == {"status": "error", "message": "wiki/experiments/missing.md: page not found"}
    assert "'remote' is missing" in no_remote.error()["message"]
    assert bad_yaml.error()["message"].startswith("wiki/experiments/broken.md:4: invalid YAML")
    assert "list" in append_scalar.error()["message"]
    root = cli.root(DIRECT, "set-errors")
    assert (root / CNN).read_bytes() == (EXAMPLE_WIKI / CNN).read_bytes(), "a refused edit wrote to the page"
    assert (root / LEGACY_PAGE[0]).read_text() == LEGACY_PAGE[1]
    assert (root / BROKEN_PAGE[0]).read_text() == BROKEN_PAGE[1]


def test_set_meta_typing(cli, runner):
    hours, outcome, gpu, append = (run.ok() for run in cli(runner, "typing"))
    # the wiki tool's keys: old and new as text (new as given; JSON for lists), plus the typed values written
    assert hours == {
        "status": "ok",
        "field": "estimated_hours",
        "old": "0",
        "new": "5",
        "action": "set",
        "old_value": 0,
        "value": 5,
    }
    assert (outcome["old"], outcome["new"], outcome["value"]) == ("", "no", "no")
    assert (gpu["old"], gpu["new"], gpu["value"]) == ("", "007", "007")
    assert append == {
        "status": "ok",
        "field": "tags",
        "old": '["classification", "gpu", "pytorch"]',
        "new": '["classification", "gpu", "pytorch", "cnn, small"]',
        "action": "append",
        "old_value": ["classification", "gpu", "pytorch"],
        "value": ["classification", "gpu", "pytorch", "cnn, small"],
    }
    page = cli.root(runner, "typing") / CNN
    meta = frontmatter(page)
    assert meta["estimated_hours"] == 5 and type(meta["estimated_hours"]) is int
    assert meta["outcome"] == "no"
    assert meta["remote"]["gpu"] == "007"
    assert meta["tags"] == ["classification", "gpu", "pytorch", "cnn, small"]
    text = page.read_text()
    assert 'outcome: "no"\n' in text
    assert "estimated_hours: 5\n" in text


def test_set_meta_more_typing(cli):
    _, idea, run_id, lr, amp, key_result, again = (run.ok() for run in cli(DIRECT, "typing-more"))
    assert idea["new"] == "yes"
    assert run_id == {
        "status": "ok",
        "field": "run_id",
        "old": "",
        "new": "007",
        "action": "create",
        "old_value": None,
        "value": "007",
    }  # created, zeros kept
    assert (lr["new"], lr["value"]) == ("0.001", 0.001) and (amp["new"], amp["value"]) == ("true", True)
    assert key_result["new"] == HOSTILE_TEXT
    assert again["action"] == "unchanged" and again["value"] == ["classification", "gpu", "pytorch"]  # --append dedups
    meta = frontmatter(cli.root(DIRECT, "typing-more") / CNN)
    assert (meta["linked_idea"], meta["run_id"], meta["learning_rate"], meta["use_amp"], meta["key_result"]) == (
        "yes",
        "007",
        0.001,
        True,
        HOSTILE_TEXT,
    )


# --------------------------------------------------------------------------- read-meta


def test_read_meta_prints_plain_json(cli, runner):
    whole, hardware = cli(runner, "read-meta")
    expected = json.loads(json.dumps(frontmatter(EXAMPLE_WIKI / MLP), default=str))
    assert whole.rc == 0 and whole.json() == expected
    assert whole.json()["date_planned"] == "2026-11-20"
    assert whole.json()["success_criteria"] == [{"metric": "accuracy", "vs": "baseline", "min_delta": 0.005}]
    assert hardware.ok() == "cpu"


def test_read_meta_more(cli):
    title, remote, hours, nope, unicode = cli(DIRECT, "read-more")
    assert title.ok() == "MLP vs logistic regression on sklearn digits"
    assert remote.ok() == {"server": "", "gpu": "", "session": "", "started": "", "completed": ""}
    assert hours.ok() == 0
    assert nope.error() == {"status": "error", "message": f"{MLP}: field 'nope' does not exist"}
    assert unicode.rc == 0 and unicode.stdout == '"ΔpTernary ≈ 5× — γ"\n'


# --------------------------------------------------------------------------- log, slug, transition


def recent_days() -> set[str]:
    now = datetime.now(timezone.utc)
    return {f"{d:%Y-%m-%d}" for d in (now, now - timedelta(minutes=10))}


def test_log_appends_a_dated_line_and_prints_nothing_like_the_wiki_tool(cli, runner):
    done = cli(runner, "log-slug")[0]
    assert (done.rc, done.stdout, done.stderr) == (0, "", "")
    log = cli.root(runner, "log-slug") / "wiki" / "log.md"
    added = log.read_text()[len((EXAMPLE_WIKI / "wiki" / "log.md").read_text()) :]
    assert added in {f"## [{d}] exp-run | digits-cnn-gpu deployed on gpu-01\n" for d in recent_days()}


def test_log_creates_a_missing_log(cli):
    (created,) = cli(DIRECT, "log-new")
    assert created.rc == 0 and created.stdout == ""
    new_log = (cli.root(DIRECT, "log-new") / "new-wiki" / "log.md").read_text()
    assert new_log.startswith("# Wiki Log\n") and new_log.rstrip().endswith("] first entry")


def test_slug(cli, runner):
    slug = cli(runner, "log-slug")[1]
    assert (slug.rc, slug.stdout, slug.stderr) == (0, "effect-dropout-small-mlp-mnist\n", "")


def test_transition(cli, runner):
    (to_running,) = cli(runner, "transition")
    assert to_running.ok() == {
        "status": "ok",
        "entity": "experiments/digits-cnn-gpu",
        "old_status": "planned",
        "new_status": "running",
        "field": "status",
        "old": "planned",
        "new": "running",
    }
    assert frontmatter(cli.root(runner, "transition") / CNN)["status"] == "running"


def test_transition_chain(cli):
    to_running, early_complete, set_key, to_completed, back, bogus = cli(DIRECT, "transition-chain")
    to_running.ok()
    assert "'key_result' is empty" in early_complete.error()["message"]
    set_key.ok()
    assert to_completed.ok() == {
        "status": "ok",
        "entity": "experiments/digits-cnn-gpu",
        "old_status": "running",
        "new_status": "completed",
        "field": "status",
        "old": "running",
        "new": "completed",
        "auto_set": ["date_completed"],
    }
    assert "cannot go from 'completed' to 'running'" in back.error()["message"]
    assert bogus.rc == 2 and "invalid choice: 'finished'" in bogus.stderr and bogus.stdout == ""
    meta = frontmatter(cli.root(DIRECT, "transition-chain") / CNN)
    assert meta["status"] == "completed" and meta["key_result"] == "CNN 0.98 vs LR 0.96"
    assert meta["date_completed"] in recent_days()


# --------------------------------------------------------------------------- verbs of the wiki's own tool


def test_verbs_exprun_lacks_go_to_the_wiki_s_own_tool(cli):
    edge, idea, reason = (run.ok() for run in cli(DIRECT, "hand-over"))
    assert edge == {"status": "ok", "wiki_tool": ["add-edge", "--from", "a", "--to", "b", "--type", "supports"]}
    assert idea == {"status": "ok", "wiki_tool": ["transition", IDEA, "--to", "in_progress"]}
    assert reason["wiki_tool"][-2:] == ["--reason", "retry"]
    assert frontmatter(cli.root(DIRECT, "hand-over") / CNN)["status"] == "planned", "exprun itself changed nothing"


def test_without_the_wiki_s_tool_they_are_refused_in_one_line(cli):
    edge, idea = cli(DIRECT, "no-wiki-tool")
    assert edge.error()["message"].startswith(
        "'add-edge' is for the wiki's own tools/research_wiki.py, which is not in"
    )
    assert "'transition' of this page" in idea.error()["message"]


def test_a_person_s_comments_on_edited_lines_are_kept(cli):
    status, outcome = (run.ok() for run in cli(DIRECT, "comments-kept"))
    assert (status["new"], outcome["new"]) == ("running", "no")
    assert (cli.root(DIRECT, "comments-kept") / COMMENTED_PAGE[0]).read_text() == (
        '---\ntitle: "t"\nstatus: running   # planned | running\noutcome: "no" # the verdict\n---\n'
    )  # column kept
