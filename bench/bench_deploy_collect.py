"""Deploy and collect through the real workflow, against a Snakemake run that has nothing to do; log tail scan.

(a) `snakemake deploy_<slug>` of a prepared, approved experiment whose run.sh exits at once (so the run
    itself costs nothing; the timed command runs the gate check and the launch under screen), against
    `snakemake deploy_<slug>` again right after it ("Nothing to be done"). Target: ≤ +0.3 s.
(b) `snakemake collect_<slug>` of a run that ended with 1,000 seed files (results/<slug>/seed_0..999.json,
    config.yaml seeds 0..999), which goes straight to finishing, against `snakemake -n collect_<slug>`
    (the same target planned but not run). Target: ≤ +0.5 s.
(c) monitor.classify over logtail.tail_text of a 1 GiB log against a 1 MiB log. Target: ≤ 1.2x.

A page can be deployed and collected once, so N experiments are prepared and approved beforehand.
"""

from __future__ import annotations

import json
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
    snakemake(root, *[f"prepare_{s}" for s in slugs])
    for slug in slugs:
        gate.approve(slug, root, who="bench")


def wait_for(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not path.exists():
        raise RuntimeError(f"{path} did not appear within {timeout} s")


def bench_deploy(root: Path, slugs: list[str]) -> Result:
    from exprun.core.paths import Paths

    deploys, noops = [], []
    for slug in slugs:
        deploys.append(timed_snakemake(root, f"deploy_{slug}", expect="Finished jobid"))
        wait_for(Paths(slug, root).exit_status)  # the instant run has ended
        noops.append(timed_snakemake(root, f"prepare_{slug}", expect="Nothing to be done"))
    return report(
        Result(
            "deploy (a): snakemake deploy_<slug> vs no-op",
            best(deploys),
            best(noops),
            "diff",
            0.3,
            "deploy_<slug> (gate + launch)",
            "prepare_<slug> of it (nothing to be done)",
        ),
        deploys,
        noops,
    )


def write_seed_results(root: Path, slug: str, count: int) -> None:
    """count seed files as train.py writes them, and config.yaml listing those seeds (not timed)."""
    from exprun.core.paths import Paths

    paths = Paths(slug, root)
    run = json.loads(paths.run.read_text())  # seed files of this run carry its run id and approved code hash
    config_path = paths.code_dir / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["seeds"] = list(range(count))
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
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


def bench_collect(root: Path, slugs: list[str]) -> Result:
    from exprun.core.paths import Paths
    from exprun.wiki import pages

    for slug in slugs:
        write_seed_results(root, slug, SEEDS)
    collects, noops = [], []
    for slug in slugs:
        noops.append(timed_snakemake(root, "-n", f"collect_{slug}", expect="dry-run"))
        collects.append(timed_snakemake(root, f"collect_{slug}", expect="Finished jobid"))
        paths = Paths(slug, root)
        collected = json.loads(paths.collected.read_text())
        assert collected["status"] == "completed" and len(collected["succeeded_seeds"]) == SEEDS, collected
        assert pages.load_page(paths.page).status == "completed"
    return report(
        Result(
            f"collect (b): snakemake collect_<slug> of {SEEDS} seeds vs no-op",
            best(collects),
            best(noops),
            "diff",
            0.5,
            f"collect_<slug> ({SEEDS} seed files)",
            "-n collect_<slug> (dry run)",
        ),
        collects,
        noops,
    )


TRIVIAL_SNAKEFILE = """\
rule all:
    input: "b"
    localrule: True
rule a:
    output: "a"
    localrule: True
    shell: "touch {output}"
rule b:
    input: "a"
    output: "b"
    localrule: True
    shell: "touch {output}"
"""


def bench_snakemake_floor(folder: Path) -> Result:
    """Diagnostic, no target: what 2 trivial shell jobs (as many as deploy runs) cost Snakemake itself."""
    folder.mkdir()
    (folder / "Snakefile").write_text(TRIVIAL_SNAKEFILE)
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

    def two_jobs() -> None:
        for name in ("a", "b"):
            (folder / name).unlink(missing_ok=True)
        subprocess.run(argv, check=True, capture_output=True)

    def nothing() -> None:
        subprocess.run(argv, check=True, capture_output=True)

    jobs, noops = interleaved(two_jobs, nothing, repeat=3)
    return report(
        Result(
            "  snakemake floor: 2 trivial `touch` jobs vs nothing to do (another Snakefile)",
            best(jobs),
            best(noops),
            "info",
            None,
            "2 touch jobs",
            "nothing to do",
        ),
        jobs,
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
            results.append(bench_deploy(root, slugs))
            results.append(bench_snakemake_floor(tmp / "floor"))
            results.append(bench_collect(root, slugs))
        finally:
            stop_runs(root)
        header("log tail scan")
        results.append(bench_tail(tmp))
    return results


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    run()
