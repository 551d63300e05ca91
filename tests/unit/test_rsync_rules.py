"""sync.include / sync.exclude select exactly what rsync selects for the wiki's remote.py (its filter order:
excludes, `--include=*/`, includes, `--exclude=*`), checked against real `rsync --dry-run` on the same tree."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from exprun.remote import sync
from exprun.remote.rsync_rules import Filter, rule
from services import require_service

TREE = [
    "top.py",
    "a/b/c.py",
    "a/b/c.txt",
    "a/foo",
    "sub/x.py",
    "sub/foo/f.py",
    "x/sub/y.py",
    "x/sub/foo",
    "data/d.py",
    "data/raw/r.csv",
    "shared/s.py",
    "shared/s.txt",
    "shared/deeper/t.py",
    "foo",
    ".hidden.py",
    ".git/config.json",
    "deep/1/2/3/requirements-dev.txt",
    "requirements.txt",
    "Makefile",
    "src/Makefile",
    "src/pkg/__pycache__/m.cpython-311.pyc",
    "weird[1].py",
    "sp ace.py",
    "model.pt",
    "b/model.ckpt",
]
WIKI_INCLUDE = [
    "*.py",
    "*.yaml",
    "*.yml",
    "*.json",
    "*.txt",
    "*.sh",
    "*.toml",
    "*.cfg",
    "Makefile",
    "Dockerfile",
    "requirements*.txt",
]
WIKI_EXCLUDE = [
    ".git/",
    "__pycache__/",
    "*.pyc",
    "data/",
    "wandb/",
    "checkpoints/",
    "*.pt",
    "*.pth",
    "*.ckpt",
    "*.safetensors",
    "*.bin",
    ".venv/",
    "node_modules/",
]
CASES = [
    (WIKI_INCLUDE, WIKI_EXCLUDE),
    (WIKI_INCLUDE, []),
    (["sub/*.py"], []),
    (["/sub/*.py"], []),
    (["**/foo"], []),
    (["foo"], []),
    (["/foo"], []),
    (["shared/"], []),
    (["shared/**"], []),
    (["shared/***"], ["*.txt"]),
    (["shared/*"], []),
    (["a/**/c.py"], []),
    (["**/*.py"], ["/sub/"]),
    (["x/**"], ["x/*/foo"]),
    (["sub/**/*.py"], []),
    (["?op.py", "[a-s]*.py", "[!t]*.txt"], []),
    (["weird\\[1\\].py", "sp ace.py"], []),
    (["*"], ["data/", "*.py", "/a/b/"]),
    (["**"], ["**/sub/"]),
    (["b/*.ckpt", "/model.pt"], []),
]


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tree") / "src"
    for rel in TREE:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    return root


def rsync_selects(root: Path, includes: list[str], excludes: list[str]) -> list[str]:
    """The files the wiki's remote.py would send from root (its filter, `rsync --dry-run`)."""
    argv = ["rsync", "-r", "--dry-run", "--out-format=%n"]
    argv += [f"--exclude={p}" for p in excludes] + ["--include=*/"] + [f"--include={p}" for p in includes]
    argv += ["--exclude=*", f"{root}/", str(root.parent / "dst") + "/"]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    return sorted(line for line in done.stdout.splitlines() if line and not line.endswith("/"))


@pytest.mark.parametrize("includes, excludes", CASES, ids=[" ".join(i + ["-"] + e) for i, e in CASES])
def test_selection_is_what_rsync_sends(tree, includes, excludes):
    require_service("rsync", shutil.which("rsync") is not None, "apt-get install rsync")
    ours = [rel for rel, _ in sync.selected(tree, Filter.of(includes, excludes)).files]
    assert ours == rsync_selects(tree, includes, excludes)


def test_the_rules_the_wiki_relies_on():
    """Without rsync at hand: a name pattern matches at any depth, a leading '/' anchors, '*' stops at '/'."""
    assert rule("*.py").matches("a/b/c.py", False)
    assert rule("sub/*.py").matches("a/sub/x.py", False) and not rule("sub/*.py").matches("sub/a/x.py", False)
    assert not rule("/sub/*.py").matches("a/sub/x.py", False) and rule("/sub/*.py").matches("sub/x.py", False)
    assert rule("src/**/*.py").matches("src/a/b/c.py", False) and not rule("src/**/*.py").matches("src/c.py", False)
    assert rule("**/*.py").matches("c.py", False)
    assert rule("data/").matches("data", True) and not rule("data/").matches("data", False)
    assert rule("lib/***").matches("lib", True) and rule("lib/***").matches("lib/x/y", False)


def test_shared_code_reaches_the_plan_and_bookkeeping_never_does(tmp_path):
    """`*.py` sends a shared folder's code next to the experiment's; snapshots/, experiments/state/ and
    .snakemake/ are never entered, results/ is listed as protected, a folder-only include gets a note."""
    from types import SimpleNamespace

    root = tmp_path
    for rel in [
        "experiments/code/e1/train.py",
        "experiments/code/e1/config.yaml",
        "src/common/util.py",
        "lib/helpers.py",
        "snapshots/abcd/e1/train.py",
        "experiments/state/e1/review.json",
        ".snakemake/scripts/tmp.py",
        "results/e1/seed_0.json",
        "notes/readme.md",
    ]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x\n")
    (root / "link.py").symlink_to("/etc/hostname")
    server = SimpleNamespace(sync_include=["*.py", "*.json", "lib/"], sync_exclude=[])
    plan = sync._plan(root, [root / "experiments" / "code" / "e1"], server)
    sent = [rel for _, rel in plan.files]
    assert sent == [
        "experiments/code/e1/config.yaml",
        "experiments/code/e1/train.py",
        "lib/helpers.py",
        "src/common/util.py",
    ]
    assert plan.protected == ["results/e1/seed_0.json"] and plan.links == ["link.py"]
    assert plan.notes == [
        "sync.include 'lib/' matches folders only (rsync's rule), so it sends no file; write "
        "'lib/***' for everything in it"
    ]
