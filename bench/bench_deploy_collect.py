"""Deploy and collect through the real workflow, against a Snakemake run that has nothing to do; log tail scan.

(a) `snakemake deploy_<slug>` of a prepared, approved experiment whose run.sh exits at once (so the run
    itself costs nothing; the timed command checks the approval and launches under screen), against a no-op
    run of the same workflow (its sanity.json asked for: "Nothing to be done") plus the floor of the jobs the
    deploy ran. Target: ≤ +0.3 s over both.
(b) `snakemake collect_<slug>` of a run that ended with 1,000 seed files (results/<slug>/seed_0..999.json,
    config.yaml seeds 0..999), which goes straight to finishing, against `snakemake -n collect_<slug>`
    (the same target planned but not run) plus the floor of its one job. Target: ≤ +0.5 s over both.

The floor: what Snakemake itself adds for that many jobs, measured in the same run on a Snakefile of as many
empty `touch` jobs (and a target rule without a command where the deploy has one) against the same Snakefile
with nothing to do. Snakemake 9 adds about 0.5 s per job on 2 cores; exprun's share is what is left.
(c) monitor.classify over logtail.tail_text of a 1 GiB log against a 1 MiB log. Target: ≤ 1.2x.

A page can be deployed and collected once, so N experiments are prepared and approved beforehand.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

from common import (
    GIB,
    MIB,
    TAG,
    Result,
    best,
    compare_tail_scan,
    copy_wiki,
    fmt_s,
    header,
    interleaved,
    make_log,
    progress_block,
    report,
    snakemake,
    stop_runs,
    temp_dir,
    timed_snakemake,
    write_pages,
)

N = 3  # repetitions of deploy and of collect: one prepared experiment each
SEEDS = 1000
# Benchmark stand-in: the run ends at once; the sanity run (which goes through run.sh) gets the generated one.
INSTANT_RUN = (
    "#!/usr/bin/env bash\n"
    'case " $* " in *" --sanity "*|*" --help "*) exec bash "$(dirname "$0")/generated_run.sh" "$@";; esac\n'
    "exit 0\n"
)


def prepare(root: Path, slugs: list[str]) -> None:
    """Generate the code, swap run.sh for one that exits at once, run the sanity checks, approve (not timed)."""
    from exprun.core.paths import Paths
    from exprun.gate import approval as gate

    snakemake(root, *[str(Paths(s).generated) for s in slugs])
    for slug in slugs:
        code = Paths(slug, root).code_dir
        (code / "run.sh").rename(code / "generated_run.sh")
        (code / "run.sh").write_text(INSTANT_RUN)
        # the seeds collect will count: collect reads the approved snapshot's config.yaml, so set before approval
        config = yaml.safe_load((code / "config.yaml").read_text())
        (code / "config.yaml").write_text(yaml.safe_dump({**config, "seeds": list(range(SEEDS))}, sort_keys=False))
    snakemake(root, *[f"prepare_{s}" for s in slugs])
    for slug in slugs:
        gate.approve(slug, root, who="bench")


def wait_for(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not path.exists():
        raise RuntimeError(f"{path} did not appear within {timeout} s")


def jobs_run(output: str) -> int:
    """How many jobs a Snakemake run ran, from its "Job stats" table (its `total` line)."""
    found = re.findall(r"^total\s+(\d+)\s*$", output, re.MULTILINE)
    if not found:
        raise RuntimeError(f"no Job stats in the output:\n{output[-2000:]}")
    return int(found[-1])


def bench_deploy(root: Path, slugs: list[str], floor_dir: Path) -> list[Result]:
    from exprun.core.paths import Paths

    deploys, noops, counts = [], [], []
    for slug in slugs:
        started = time.perf_counter()
        done = snakemake(root, f"deploy_{slug}")
        deploys.append(time.perf_counter() - started)
        counts.append(jobs_run(done.stdout + done.stderr))
        wait_for(Paths(slug, root).exit_status)  # the instant run has ended
        noops.append(timed_snakemake(root, str(Paths(slug).sanity), expect="Nothing to be done"))
    jobs = max(counts)  # deploy_<slug> itself (no command) and the jobs before it
    floor = bench_floor(floor_dir, jobs - 1, bare_target=True)
    print(f"    a deploy ran {jobs} Snakemake job(s): {jobs - 1} step(s) and deploy_<slug> itself")
    return [
        floor,
        report(
            Result(
                f"deploy (a): snakemake deploy_<slug> vs a no-op run + the floor of its {jobs} jobs",
                best(deploys),
                best(noops) + floor.diff,
                "diff",
                0.3,
                f"deploy_<slug> ({jobs - 1} step(s): approval check and launch)",
                f"no-op run (sanity.json: nothing to be done) {fmt_s(best(noops))} + floor {fmt_s(floor.diff)}",
            ),
            deploys,
            noops,
        ),
    ]


def write_seed_results(root: Path, slug: str, count: int) -> None:
    """count seed files as train.py writes them (config.yaml lists those seeds since prepare; not timed)."""
    from exprun.core.paths import Paths

    paths = Paths(slug, root)
    run = json.loads(paths.run.read_text())  # seed files of this run carry its run id and approved code hash
    paths.results_dir.mkdir(parents=True, exist_ok=True)
    for seed in range(count):
        record = {
            "slug": slug,
            "seed": seed,
            "metrics": {"accuracy": 0.97 + (seed % 7) * 0.001, "f1_macro": 0.969 + (seed % 5) * 0.001},
            "baseline_metrics": {"accuracy": 0.9667, "f1_macro": 0.9667},
            "steps": 460,
            "wall_time_s": 3.1,
            "config_hash": "0" * 64,
            "sanity": False,
            "overrides": {},
            "run_id": run["run_id"],
            "code_hash": run["approved_hash"],
        }
        (paths.results_dir / f"seed_{seed}.json").write_text(json.dumps(record))


def bench_collect(root: Path, slugs: list[str], floor_dir: Path) -> list[Result]:
    from exprun.core.paths import Paths
    from exprun.wiki import pages

    for slug in slugs:
        write_seed_results(root, slug, SEEDS)
    collects, noops, counts = [], [], []
    for slug in slugs:
        noops.append(timed_snakemake(root, "-n", f"collect_{slug}", expect="dry-run"))
        started = time.perf_counter()
        done = snakemake(root, f"collect_{slug}")
        collects.append(time.perf_counter() - started)
        counts.append(jobs_run(done.stdout + done.stderr))
        paths = Paths(slug, root)
        collected = json.loads(paths.collected.read_text())
        assert collected["status"] == "completed" and len(collected["succeeded_seeds"]) == SEEDS, collected
        assert pages.load_page(paths.page).status == "completed"
    jobs = max(counts)
    floor = bench_floor(floor_dir, jobs, bare_target=False)
    return [
        floor,
        report(
            Result(
                f"collect (b): snakemake collect_<slug> of {SEEDS} seeds vs a no-op run + the floor of its {jobs} job",
                best(collects),
                best(noops) + floor.diff,
                "diff",
                0.5,
                f"collect_<slug> ({SEEDS} seed files)",
                f"-n collect_<slug> (dry run) {fmt_s(best(noops))} + floor {fmt_s(floor.diff)}",
            ),
            collects,
            noops,
        ),
    ]


def floor_snakefile(steps: int, bare_target: bool) -> str:
    """`steps` empty `touch` jobs in a chain, the last one the default target, or behind a target rule without a
    command (as deploy_<slug> is) when `bare_target`."""
    rules = []
    if bare_target:
        rules.append(f'rule all:\n    input: "s{steps}"\n    localrule: True\n')
    for i in range(1, steps + 1):
        needs = f'    input: "s{i - 1}"\n' if i > 1 else ""
        rules.append(f'rule s{i}:\n{needs}    output: "s{i}"\n    localrule: True\n    shell: "touch {{output}}"\n')
    if not bare_target:
        rules.insert(0, rules.pop())  # the last step first: Snakemake's default target
    return "\n".join(rules)


def bench_floor(folder: Path, steps: int, bare_target: bool) -> Result:
    """What `steps` empty shell jobs (and a bare target rule) cost Snakemake itself, against nothing to do."""
    folder = folder / f"floor-{steps}-{int(bare_target)}"
    folder.mkdir(parents=True)
    (folder / "Snakefile").write_text(floor_snakefile(steps, bare_target))
    argv = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "1",
        "--directory",
        str(folder),
        "--snakefile",
        str(folder / "Snakefile"),
    ]

    def jobs() -> None:
        for i in range(1, steps + 1):
            (folder / f"s{i}").unlink(missing_ok=True)
        subprocess.run(argv, check=True, capture_output=True)

    def nothing() -> None:
        subprocess.run(argv, check=True, capture_output=True)

    ran, noops = interleaved(jobs, nothing, repeat=3)
    what = f"{steps} `touch` job(s)" + (" + a bare target rule" if bare_target else "")
    return report(
        Result(
            f"  snakemake floor: {what} vs nothing to do (another Snakefile)",
            best(ran),
            best(noops),
            "info",
            None,
            what,
            "nothing to do",
        ),
        ran,
        noops,
    )


def bench_tail(folder: Path) -> Result:
    block = progress_block(MIB)
    small = make_log(folder / "small.log", MIB, block)
    large = make_log(folder / "large.log", GIB, block)
    try:
        return compare_tail_scan(small, large, "log tail scan (c): classify(tail_text) 1 GiB vs 1 MiB log")
    finally:
        large.unlink()


def run() -> list[Result]:
    results = []
    header(f"deploy / collect through the workflow ({N} prepared experiments, run.sh exits at once)")
    with temp_dir("deploy") as tmp:
        root = copy_wiki(tmp / "wiki root")
        slugs = [f"{TAG}-dep-{i}" for i in range(N)]
        write_pages(root, slugs)
        try:
            started = time.perf_counter()
            prepare(root, slugs)
            print(
                f"    (setup: generate + sanity run + approve of {N} experiments took "
                f"{time.perf_counter() - started:.1f} s, not timed)"
            )
            results += bench_deploy(root, slugs, tmp / "floor")
            results += bench_collect(root, slugs, tmp / "floor")
        finally:
            stop_runs(root)
        header("log tail scan")
        results.append(bench_tail(tmp))
    return results


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    run()
