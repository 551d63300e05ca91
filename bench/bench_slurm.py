"""SLURM on the single-node test cluster (scripts/slurm_cluster.sh): 10 seeds as one sbatch array
(count the sbatch calls) vs the same 10 seeds as Snakemake jobs through snakemake-executor-plugin-slurm.

Each task sleeps 1 s. The node has as many CPUs as this machine, so the 10 tasks cannot all run at
once here; the figure is the time from the deploy command until every task has run (all started and
ended), the same end point for both, side by side.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from common import REPO, TAG, Result, header, report, temp_dir

SEEDS = 10
TASK = "#!/usr/bin/env bash\nsleep 1\necho done\n"


def array_run(root: Path) -> tuple[float, int]:
    from exprun.machines.launchers import slurm
    from exprun.machines.launchers.base import RunSpec

    calls = []

    def counting(argv, input=None):
        calls.append(argv[0])
        return slurm.local_runner(argv, input)

    script = root / "task.sh"
    script.write_text(TASK)
    spec = RunSpec(
        f"{TAG}-array", ["bash", str(script)], root, root / "logs" / "exp-array.log", root / "state" / "exit_status"
    )
    started = time.perf_counter()
    record = slurm.launch(spec, list(range(SEEDS)), {"time": "00:05:00"}, counting)
    while slurm.state(record).state == "running":
        time.sleep(0.1)
    return time.perf_counter() - started, calls.count("sbatch")


def plugin_run(root: Path) -> float:
    (root / "Snakefile").write_text(
        f"rule all:\n    input: expand('out/{{i}}.txt', i=range({SEEDS}))\n\n"
        "rule seed:\n    output: 'out/{i}.txt'\n    resources: runtime=5, mem_mb=100\n"
        "    shell: 'sleep 1; echo done > {output}'\n"
    )
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--executor",
            "slurm",
            "--jobs",
            str(SEEDS),
            "--slurm-status-command",
            "squeue",
            "--directory",
            str(root),
            "--snakefile",
            str(root / "Snakefile"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    return time.perf_counter() - started


def run() -> list[Result]:
    header(f"SLURM: {SEEDS} seeds as one sbatch array vs {SEEDS} Snakemake jobs through the executor plugin")
    cluster = REPO / "scripts" / "slurm_cluster.sh"
    up = subprocess.run(["bash", str(cluster), "start"], capture_output=True, text=True, timeout=600)
    if up.returncode != 0:
        raise RuntimeError(f"SLURM test cluster did not start: {up.stderr.strip()[-300:]}")
    with temp_dir("exprun-bench-slurm") as tmp:
        (tmp / "array").mkdir()
        (tmp / "plugin").mkdir()
        array_s, sbatch_calls = array_run(tmp / "array")
        print(f"    sbatch calls for {SEEDS} seeds: {sbatch_calls}")
        plugin_s = plugin_run(tmp / "plugin")
    return [
        report(
            Result(
                f"{SEEDS} seeds: sbatch array ({sbatch_calls} sbatch call) vs executor plugin, deploy to all done",
                array_s,
                plugin_s,
                "info",
                None,
                "array",
                "executor plugin",
            ),
            [array_s],
            [plugin_s],
        )
    ]


if __name__ == "__main__":
    run()
