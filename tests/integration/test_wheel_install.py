"""A non-editable install works: build the wheel, install it into a fresh venv, init a scratch wiki, prepare there.

The first test's venv sees the dependencies of the development venv (a .pth line), but exprun only from the wheel:
its workflow, profiles, config, schema and templates must all come from the installed package. The second is the
light user install for real: the wheel and its runtime dependencies from the package index into a venv of its own
(about 35 s), then exprun and snakemake from a new shell that activated nothing, and no test tool in it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SLUG = "digits-mlp-vs-logreg"
SYSTEM_PATH = "/usr/bin:/bin"


def run(argv, **kwargs) -> subprocess.CompletedProcess:
    """A command as a fresh install sees it: without the checkout's src/ on PYTHONPATH."""
    kwargs.setdefault("env", {k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{argv}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """exprun's wheel, built from a copy of the checkout (no build folder left in it)."""
    tmp = tmp_path_factory.mktemp("wheel")
    build = tmp / "build-src"
    shutil.copytree(
        REPO,
        build,
        symlinks=True,
        ignore=shutil.ignore_patterns(".venv*", ".git", "build", "*.egg-info", ".pytest_cache", "__pycache__", "demo"),
    )
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp / "dist", build])
    return next((tmp / "dist").glob("exprun-*.whl"))


def test_wheel_in_a_fresh_venv_inits_a_wiki_and_prepares_an_experiment(wheel, tmp_path):
    venv = tmp_path / "fresh venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile", "--target", site, wheel])
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # numpy, snakemake, ... not exprun

    where = run([python, "-c", "import exprun, json; print(json.dumps(exprun.__file__))"]).stdout
    assert json.loads(where).startswith(str(site)), "exprun must come from the wheel, not the checkout"

    wiki = tmp_path / "scratch wiki"
    shutil.copytree(REPO / "examples" / "wiki", wiki)
    run([python, "-m", "exprun", "init", wiki])
    assert str(site / "exprun" / "workflow_files" / "Snakefile") in (wiki / "Snakefile").read_text()
    profile = site / "exprun" / "workflow_files" / "profiles" / "local"
    done = run([python, "-m", "snakemake", "--profile", profile, "-c1", f"prepare_{SLUG}"], cwd=wiki)
    assert "rule sanity_check" in done.stdout + done.stderr
    sanity = json.loads((wiki / "experiments" / "state" / SLUG / "sanity.json").read_text())
    assert sanity["status"] == "passed"
    assert sanity["checks"][-1]["detail"].endswith("conforms to the result schema")  # the schema ships
    run(
        [
            python,
            "-c",
            "from exprun.prepare.codegen import prompt; assert '# The run contract' in prompt.contract_text()",
        ]
    )
    listed = run([python, "-m", "snakemake"], cwd=wiki)  # the wheel's workflow profile: no --profile, no --cores
    assert f"{SLUG}  planned" in listed.stdout + listed.stderr
    run([python, "-m", "exprun", "install-skill", wiki])  # the skill's text ships too, and names the wheel's files
    skill = (wiki / ".claude" / "skills" / "exp-run" / "SKILL.md").read_text()
    assert str(site / "exprun" / "data" / "run-contract.md") in skill and "# /exp-run" in skill


def test_the_first_hour_from_the_light_install_in_a_new_shell(wheel, tmp_path):
    """The README's path for a new user, no flag to remember and nothing activated: the light install, then in a
    new folder init, a bare snakemake, prepare, approve by touch, deploy, watch, collect."""
    venv = tmp_path / "light venv"
    run([sys.executable, "-m", "venv", venv])
    run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-compile", wheel])  # the runtime, from the index
    bare = {"HOME": str(tmp_path), "PATH": SYSTEM_PATH}

    assert "usage: exprun" in run([venv / "bin" / "exprun", "--help"], env=bare).stdout
    assert run([venv / "bin" / "snakemake", "--version"], env=bare).stdout.startswith("9.")
    for tool in ("pytest", "xdist", "torch", "ruff", "mypy", "snakemake_executor_plugin_slurm"):
        done = subprocess.run([venv / "bin" / "python", "-c", f"import {tool}"], capture_output=True, text=True)
        assert done.returncode != 0 and f"No module named '{tool}'" in done.stderr, f"the light install has {tool}"

    bin_dir = tmp_path / "bin"
    linked = run(["bash", REPO / "scripts" / "link_commands.sh", venv], env={**bare, "EXPRUN_BIN_DIR": str(bin_dir)})
    assert f"{bin_dir}/snakemake -> {venv}/bin/snakemake" in linked.stdout

    new_shell = {**bare, "PATH": f"{bin_dir}:{SYSTEM_PATH}", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    if os.environ.get("SCREENDIR"):  # the test process's own screen folder (tests/conftest.py)
        new_shell["SCREENDIR"] = os.environ["SCREENDIR"]
    wiki = tmp_path / "my wiki"

    def typed(line: str) -> str:
        """One line typed into a new shell in the wiki root; what it printed."""
        done = run(["bash", "-c", line], env=new_shell, cwd=wiki if wiki.is_dir() else tmp_path)
        return done.stdout + done.stderr

    typed(f"exprun init {shlex.quote(wiki.name)}")
    found = run(["bash", "-c", "command -v snakemake"], env=new_shell).stdout.strip()
    assert os.path.realpath(found) == os.path.realpath(venv / "bin" / "snakemake")
    for folder in ("ideas", "papers"):  # the person's wiki: an idea, a paper, and the experiment page they planned
        shutil.copytree(REPO / "examples" / "wiki" / "wiki" / folder, wiki / "wiki" / folder)
    page = wiki / "wiki" / "experiments" / f"{SLUG}.md"
    shutil.copy(REPO / "examples" / "wiki" / "wiki" / "experiments" / page.name, page)

    assert f"{SLUG}  planned" in typed("snakemake")  # the workflow profile: no --cores, no --profile
    prepared = typed(f"snakemake prepare_{SLUG}")  # ends with the checklist, how to approve, then deploy
    assert f"exprun approve {SLUG}" in prepared and f"then deploy:\n  snakemake deploy_{SLUG}\n" in prepared, prepared
    typed(f"touch experiments/state/{SLUG}/approval.stamp")
    deployed = typed(f"snakemake deploy_{SLUG}")
    assert f"exprun watch {SLUG}" in deployed and f"`snakemake collect_{SLUG}`" in deployed, deployed
    watched = typed(f"exprun watch {SLUG}")  # not a terminal: plain lines, and it returns when the run has ended
    assert SLUG in watched and "ended" in watched, watched
    typed(f"snakemake collect_{SLUG}")
    text = page.read_text()
    assert "status: completed" in text and "## Results" in text
    assert not list(wiki.glob("**/.exprun-manifest.json.*")), "nothing half-written left behind"
