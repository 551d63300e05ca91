"""A non-editable install works: build the wheel, install it into a fresh venv, init a scratch wiki, prepare there.

The fresh venv sees the dependencies of the development venv (a .pth line), but exprun only from the wheel:
its workflow, profiles, config, schema and templates must all come from the installed package.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SLUG = "digits-mlp-vs-logreg"


def run(argv, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{argv}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_wheel_in_a_fresh_venv_inits_a_wiki_and_prepares_an_experiment(tmp_path):
    build = tmp_path / "build-src"
    shutil.copytree(
        REPO,
        build,
        symlinks=True,
        ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", ".pytest_cache", "__pycache__"),
    )
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            tmp_path / "dist",
            build,
        ]
    )
    wheel = next((tmp_path / "dist").glob("exprun-*.whl"))

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
