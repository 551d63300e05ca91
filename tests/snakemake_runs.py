"""`python -m snakemake` with one of the repository's profiles on a wiki root, as a user types it."""

from __future__ import annotations

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
