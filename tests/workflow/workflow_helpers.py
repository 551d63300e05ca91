"""Helpers of the workflow tests: run `python -m snakemake` as a subprocess on a copy of the example wiki.

A module of its own (not conftest) so test files import it by a name no other test folder uses."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DEMO_SLUG = "digits-mlp-vs-logreg"


def _options(root: Path) -> list[str]:
    return [
        "--snakefile",
        str(REPO / "Snakefile"),
        "--profile",
        str(REPO / "profiles" / "local"),
        "--directory",
        str(root),
    ]


def snakemake(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "snakemake", *_options(root), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def hint(root: Path, target: str) -> str:
    """The command a hint printed during snakemake(root, ...) names: the options typed, then the target."""
    return shlex.join(["snakemake", *_options(root), target])


def on_screen(root: Path, *args: str, timeout: float = 300) -> tuple[int, str]:
    """`snakemake` with the local profile, its exit status and its output as a person sees it: stdout and stderr
    in the order they were written."""
    argv = [sys.executable, "-m", "snakemake", *_options(root), *args]
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    return done.returncode, done.stdout


def last_lines(text: str, count: int = 1) -> list[str]:
    """The last non-empty lines on the screen."""
    return [line for line in text.splitlines() if line.strip()][-count:]


def exprun(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "exprun", *args, "--root", str(root)], capture_output=True, text=True, timeout=120
    )


def output(done: subprocess.CompletedProcess) -> str:
    return done.stdout + done.stderr


def page_meta(root: Path, slug: str = DEMO_SLUG) -> dict:
    text = (root / "wiki" / "experiments" / f"{slug}.md").read_text()
    return yaml.safe_load(text.split("---\n")[1])


def edit_config(root: Path, slug: str, **hyperparameters) -> None:
    """A person's edit of the generated config.yaml (e.g. fewer epochs for a fast test)."""
    path = root / "experiments" / "code" / slug / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config["hyperparameters"].update(hyperparameters)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


# A stand-in run.sh (approve_with(run_sh=SEEDS_RUN)): every seed writes its result at once into the folder exprun
# names; replace the word `${{STANDIN_CRASH:-}}` with a non-empty one and seed 1 crashes instead.
SEEDS_RUN = """#!/usr/bin/env bash
cd "$(dirname "$0")/../../.."
out="${{EXPRUN_RESULTS_DIR:-results/{slug}}}"
mkdir -p "$out"
status=0
for seed in ${{EXPRUN_TASKS:-0 1 2}}; do
  echo "=== seed $seed ==="
  echo "step=1/1 epoch=1 loss=0.5 lr=0.001"
  if [ "$seed" = "1" ] && [ -n "${{STANDIN_CRASH:-}}" ]; then
    echo "seed $seed failed with exit status 3"; status=3; continue
  fi
  {{ printf '{{"seed": %s, "metrics": {{"accuracy": 0.9%s}}, ' "$seed" "$seed"
    printf '"baseline_metrics": {{"accuracy": 0.5}}, "run_id": "%s"}}\\n' "$EXPRUN_RUN_ID"; }} > "$out/seed_$seed.json"
done
exit $status
"""


# The sanity run goes through run.sh: a person's stand-in run.sh hands `--sanity` (and, unless it answers
# it itself, the run contract's `--help` probe) to the generated one.
SANITY_PASSTHROUGH = 'case " $* " in *" --sanity "*{help}) exec bash "$(dirname "$0")/generated_run.sh" "$@";; esac\n'


def replace_run_sh(root: Path, slug: str, body: str) -> None:
    """A person's stand-in run.sh (the generated one kept as generated_run.sh for the sanity run)."""
    code = root / "experiments" / "code" / slug
    if not (code / "generated_run.sh").exists():
        (code / "run.sh").rename(code / "generated_run.sh")
    lines = body.splitlines(keepends=True)
    shebang = lines[:1] if lines and lines[0].startswith("#!") else []
    passthrough = SANITY_PASSTHROUGH.format(help="" if "--help" in body else '|*" --help "*')
    (code / "run.sh").write_text("".join(shebang) + passthrough + "".join(lines[len(shebang) :]))


# One cache for the whole test run, shared by its parallel processes: tests/conftest.py names its folder in
# EXPRUN_TEST_PREPARED before the processes start, and removes it at the end.
_PREPARED_DIR = Path(os.environ["EXPRUN_TEST_PREPARED"])
# What differs between test processes and tests without changing what a prepare writes.
_NOT_INPUTS = ("PYTEST_", "SCREENDIR", "EXPRUN_TEST_PREPARED")


def _digest(root: Path, slug: str) -> str:
    """Every file of the wiki (name, bytes, link target), the slug and the environment the run inherits."""
    env = sorted((k, v) for k, v in os.environ.items() if not k.startswith(_NOT_INPUTS))
    h = hashlib.sha256(f"{slug}\0{env}".encode())
    for path in sorted(root.rglob("*")):
        h.update(str(path.relative_to(root)).encode() + b"\0")
        if path.is_symlink():
            h.update(b"link:" + os.readlink(path).encode())
        elif path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def prepare(root: Path, slug: str = DEMO_SLUG) -> None:
    """`snakemake prepare_<slug>`, run for real once per distinct wiki in a test run: a wiki whose files and
    environment are exactly those of one prepared before (by any test process) gets a copy of that result
    instead (times kept, so Snakemake sees it up to date, as `-n prepare_<slug>` confirms in test_prepare_gate).
    Nothing in the prepared state names the wiki's folder, so the copy is what the prepare would have written."""
    key = _digest(root, slug)[:24]
    cached = _PREPARED_DIR / key / root.name
    _PREPARED_DIR.mkdir(exist_ok=True)
    with open(_PREPARED_DIR / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one process prepares; the others wait for its copy
        if not (_PREPARED_DIR / f"{key}.done").exists():
            done = snakemake(root, f"prepare_{slug}")
            assert done.returncode == 0, output(done)
            shutil.copytree(root, cached, symlinks=True)
            (_PREPARED_DIR / f"{key}.done").touch()
            return
    shutil.copytree(cached, root, symlinks=True, dirs_exist_ok=True)


def approve_with(root: Path, slug: str = DEMO_SLUG, run_sh: str | None = None, approve: bool = True, **hyper) -> None:
    """Prepare, then a person's edits (hyperparameters, a stand-in run.sh), then (by default) the approval."""
    prepare(root, slug)
    if hyper:
        edit_config(root, slug, **hyper)
    if run_sh is not None:
        replace_run_sh(root, slug, run_sh.format(slug=slug))
    if approve:
        done = exprun(root, "approve", slug)
        assert done.returncode == 0, output(done)


def deployed_and_ended(root: Path, run_sh: str = SEEDS_RUN, slug: str = DEMO_SLUG) -> dict:
    """Prepare, approve a stand-in run.sh, deploy under screen and wait for the run to end; its run record."""
    import json
    import time

    approve_with(root, slug, run_sh=run_sh)
    done = snakemake(root, f"deploy_{slug}")
    assert done.returncode == 0, output(done)
    exit_file = root / "experiments" / "state" / slug / "exit_status"
    deadline = time.monotonic() + 120
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert exit_file.exists(), "the run never ended"
    return json.loads((root / "experiments" / "state" / slug / "run.json").read_text())
