"""`python -m snakemake` with one of the repository's profiles on a wiki root, as a user types it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(profile: str, root: Path, *args: str, timeout: float = 400) -> tuple[subprocess.CompletedProcess, str]:
    """The finished process and its whole output (stdout then stderr)."""
    argv = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--profile",
        str(REPO / "profiles" / profile),
        "--directory",
        str(root),
        *args,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return done, done.stdout + done.stderr


def with_profile(profile: str):
    """run() bound to one profile: `snakemake = with_profile("remote")` at the top of a test file."""
    return lambda root, *args, timeout=400: run(profile, root, *args, timeout=timeout)


def in_wiki(root: Path, *args: str, config_home: Path, timeout: float = 400) -> tuple[subprocess.CompletedProcess, str]:
    """`snakemake <args>` typed in a wiki root that `exprun init` prepared: its own Snakefile and profiles, no
    --snakefile/--directory; `config_home` stands for the person's ~/.config (Snakemake reads XDG_CONFIG_HOME)."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home)}
    argv = [sys.executable, "-m", "snakemake", *args]
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    return done, done.stdout + done.stderr


def init(root: Path, config_home: Path) -> tuple[subprocess.CompletedProcess, str]:
    """`exprun init <root>` as a person runs it, with `config_home` for ~/.config."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home)}
    done = subprocess.run(
        [sys.executable, "-m", "exprun", "init", str(root)], env=env, capture_output=True, text=True, timeout=120
    )
    return done, done.stdout + done.stderr
