"""From `snakemake deploy_<slug>` to the program's first log line: what a person waits for before a run shows life.

The program is a stand-in run.sh that prints its line at once (the sanity run still goes through the generated
one), so the figure is exprun's: Snakemake's start, the approval check, the snapshot, the launch under screen
and the integrity guard before run.sh. Timed from the start of the command until the line is in the run's log
(polled every 5 ms), next to when the command itself returned. Two places: here under screen (profiles/local),
and a real sshd on 127.0.0.1 (profiles/remote, as bench_remote.py starts it; the server's log is a local file
on the loopback server). No target: these are the rows a person reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from common import REPO, TAG, Result, copy_wiki, header, report, snakemake_argv, stop_runs, temp_dir, write_pages

MARKER = "exprun-bench: the program's first line"
FIRST_LINE_RUN = (
    "#!/usr/bin/env bash\n"
    'case " $* " in *" --sanity "*|*" --help "*) exec bash "$(dirname "$0")/generated_run.sh" "$@";; esac\n'
    f'echo "{MARKER}"\n'
    "sleep 2\n"
)
REPEAT = 2  # deploys per place: one prepared experiment each


def with_profile(argv: list[str], profile: str) -> list[str]:
    """snakemake_argv with another of exprun's profiles."""
    index = argv.index("--profile")
    return argv[: index + 1] + [str(REPO / "profiles" / profile)] + argv[index + 2 :]


def prepare(root: Path, slugs: list[str], profile: str) -> None:
    """Generate, swap run.sh for the stand-in, run the sanity checks where the deploy will run, approve."""
    from exprun.core.paths import Paths
    from exprun.gate import approval as gate

    def run(*targets: str) -> None:
        done = subprocess.run(
            with_profile(snakemake_argv(root, *targets), profile), capture_output=True, text=True, timeout=900
        )
        if done.returncode != 0:
            raise RuntimeError(f"snakemake {' '.join(targets)} failed:\n{(done.stdout + done.stderr)[-3000:]}")

    run(*[str(Paths(s).generated) for s in slugs])
    for slug in slugs:
        code = Paths(slug, root).code_dir
        (code / "run.sh").rename(code / "generated_run.sh")
        (code / "run.sh").write_text(FIRST_LINE_RUN)
    run(*[f"prepare_{s}" for s in slugs])
    for slug in slugs:
        gate.approve(slug, root, who="bench")


def first_line(root: Path, slug: str, profile: str, log: Path, timeout: float = 120) -> tuple[float, float]:
    """(seconds until the marker is in the log, seconds until the command returned)."""
    argv = with_profile(snakemake_argv(root, f"deploy_{slug}"), profile)
    started = time.perf_counter()
    command = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = returned = None
    deadline = started + timeout
    while (seen is None or returned is None) and time.perf_counter() < deadline:
        if seen is None and log.is_file() and MARKER in log.read_text(errors="replace"):
            seen = time.perf_counter() - started
        if returned is None and command.poll() is not None:
            returned = time.perf_counter() - started
            if command.returncode != 0:
                raise RuntimeError(f"deploy_{slug} failed:\n{command.stdout.read()[-3000:]}")
        time.sleep(0.005)
    if seen is None or returned is None:
        command.kill()
        raise RuntimeError(f"deploy_{slug}: no first line in {log} within {timeout:.0f} s")
    return seen, returned


def measure(name: str, root: Path, slugs: list[str], profile: str, log_root: Path) -> Result:
    lines, returns = [], []
    for slug in slugs:
        seen, returned = first_line(root, slug, profile, log_root / "logs" / f"exp-{slug}.log")
        lines.append(seen)
        returns.append(returned)
    return report(
        Result(
            f"first log line ({name}): deploy_<slug> to the program's first line, vs the command's return",
            min(lines),
            min(returns),
            "info",
            None,
            "first line in the log",
            "deploy_<slug> returned",
        ),
        lines,
        returns,
    )


def local(tmp: Path) -> Result:
    root = copy_wiki(tmp / "local wiki")
    slugs = [f"{TAG}-fl-{i}" for i in range(REPEAT)]
    write_pages(root, slugs)
    try:
        prepare(root, slugs, "local")
        return measure("here, screen", root, slugs, "local", root)
    finally:
        stop_runs(root)


def start_sshd(folder: Path) -> dict:
    """scripts/test_sshd.py; its sessions use this process's screen folder, so what starts "there" is ours to stop."""
    screens = ["--screendir", os.environ["SCREENDIR"]] if os.environ.get("SCREENDIR") else []
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "test_sshd.py"), "start", str(folder), *screens],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"sshd did not start: {done.stderr.strip()}")
    return json.loads(done.stdout)


def remote(tmp: Path) -> Result:
    from exprun.machines.launchers import screen

    info = start_sshd(tmp / "sshd")
    root = copy_wiki(tmp / "remote wiki")
    work_dir = tmp / "server work dir"
    work_dir.mkdir()
    (root / "config").mkdir(exist_ok=True)
    (root / "config" / "server.yaml").write_text(
        yaml.safe_dump(
            {
                "host": "127.0.0.1",
                "port": info["port"],
                "user": info["user"],
                "work_dir": str(work_dir),
                "identity_file": info["client_key"],
                "known_hosts": info["known_hosts"],
                # the loopback server runs this checkout's exprun in this venv
                "env_setup": f"source {REPO / '.venv' / 'bin' / 'activate'}; export PYTHONPATH={REPO / 'src'}",
            }
        )
    )
    slugs = [f"{TAG}-fr-{i}" for i in range(REPEAT)]
    write_pages(root, slugs)
    before = set(screen.sessions())
    try:
        prepare(root, slugs, "remote")
        return measure("127.0.0.1 over SSH", root, slugs, "remote", work_dir)
    finally:
        for name in set(screen.sessions()) - before:
            if TAG in name:
                subprocess.run([screen.screen_binary(), "-S", name, "-X", "quit"], capture_output=True)
        subprocess.run([sys.executable, str(REPO / "scripts" / "test_sshd.py"), "stop", str(tmp / "sshd")], timeout=30)


def run() -> list[Result]:
    header("from deploy_<slug> to the program's first log line (here under screen; on a loopback sshd)")
    with temp_dir("first-line") as tmp:
        return [local(tmp), remote(tmp)]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    run()
