"""SLURM on the single-node test cluster (scripts/slurm_cluster.sh).

(a) 10 seeds as one sbatch array (count the sbatch calls) vs the same 10 seeds as Snakemake jobs through
    snakemake-executor-plugin-slurm. Each task sleeps 1 s. The node has as many CPUs as this machine, so the
    10 tasks cannot all run at once here; the figure is the time from the deploy command until every task has
    run (all started and ended), the same end point for both, side by side.
(b) 100 tasks (10 arms × 10 seeds) through the workflow, `snakemake --profile slurm deploy_<slug>` of the
    ablation page with 10 arms and seeds 0..9 (run.sh a stand-in that sleeps and writes each task's seed file;
    the sanity run is the generated one): one sbatch call (counted from the run record), then squeue polled
    every 50 ms: how many tasks run at once on this node, the time from the command's return until as many as
    fit are RUNNING (target ≤ 1 s) and until every task has started. Then `collect_<slug>` of the 100 tasks vs
    `collect_<slug>` of one arm (the single-arm page, seeds 0..9, deployed the same way), best of 3 rounds
    each (the ended runs are put back before each round). Target: ≤ +0.5 s.
    It waits while other jobs are queued (the CI's SLURM tests share the cluster in /tmp/exprun-slurm).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from common import REPO, TAG, Result, copy_wiki, header, report, snakemake_argv, temp_dir

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


ABLATION = "digits-mlp-ablation"
SINGLE = "digits-mlp-vs-logreg"
ARMS = 10
COLLECT_ROUNDS = 3
TASK_SECONDS = 0.5
# The tasks' stand-in: the sanity run (and --help) go to the generated run.sh; a task sleeps, then writes the seed
# file of each task it was given (EXPRUN_TASKS: a seed, or arm:seed) where exprun told it to.
STANDIN_RUN = f"""#!/usr/bin/env bash
case " $* " in *" --sanity "*|*" --help "*) exec bash "$(dirname "$0")/generated_run.sh" "$@";; esac
sleep {TASK_SECONDS}
for task in $EXPRUN_TASKS; do
  seed="${{task##*:}}" arm="" dir="$EXPRUN_RESULTS_DIR" said=""
  if [ "$task" != "$seed" ]; then arm="${{task%%:*}}"; dir="$dir/$arm"; said="\\"arm\\": \\"$arm\\", "; fi
  mkdir -p "$dir"
  value="0.9$(( (seed * 7 + ${{#arm}}) % 10 ))$(( seed % 10 ))"
  metrics="{{\\"accuracy\\": $value, \\"f1_macro\\": $value}}"
  baseline="{{\\"accuracy\\": 0.9, \\"f1_macro\\": 0.9}}"
  printf '{{"seed": %s, %s"metrics": %s, "baseline_metrics": %s, "run_id": "%s"}}\\n' \\
    "$seed" "$said" "$metrics" "$baseline" "$EXPRUN_RUN_ID" > "$dir/seed_$seed.json"
done
"""


def start_cluster() -> bool:
    """Start the test cluster (or find it running) and take its environment; True when this call started it."""
    cluster = REPO / "scripts" / "slurm_cluster.sh"
    up = subprocess.run(["bash", str(cluster), "start"], capture_output=True, text=True, timeout=600)
    if up.returncode != 0:
        raise RuntimeError(f"SLURM test cluster did not start: {up.stderr.strip()[-300:]}")
    for line in up.stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line.removeprefix("export ").split("=", 1)
            os.environ[key] = value
    return "already running" not in up.stderr


def wait_for_empty_queue(timeout: float = 300) -> None:
    """The CI's SLURM tests share the cluster: wait while anyone else's jobs are queued."""
    deadline = time.monotonic() + timeout
    while True:
        queued = subprocess.run(["squeue", "-h", "-o", "%i %j"], capture_output=True, text=True).stdout.split("\n")
        others = [line for line in queued if line.strip()]
        if not others:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the SLURM test cluster stayed busy for {timeout:.0f} s: {others[:5]}")
        print(f"    waiting: {len(others)} other job(s) queued on the test cluster", flush=True)
        time.sleep(10)


def slurm_snakemake(root: Path, *args: str, timeout: float = 900) -> str:
    argv = snakemake_argv(root, *args)
    argv[argv.index("--profile") + 1] = str(REPO / "profiles" / "slurm")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"snakemake {' '.join(args)} failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return done.stdout + done.stderr


def ten_arms(config: dict) -> dict:
    """The ablation page's config with 10 arms (the control, its two ablations, seven learning rates) × seeds 0..9."""
    arms = list(config["arms"])
    for k in range(ARMS - len(arms)):
        arms.append(
            {
                "name": f"lr-{k + 2}x",
                "role": "ablation",
                "factor": f"learning rate × {k + 2}",
                "overrides": {"hyperparameters": {"learning_rate": 0.001 * (k + 2)}},
            }
        )
    return {**config, "arms": arms, "seeds": list(range(10))}


def prepare_pages(root: Path) -> None:
    """Both pages generated, their config.yaml widened, run.sh swapped, sanity run on the cluster, approved."""
    from exprun.core.paths import Paths
    from exprun.gate import approval as gate

    slurm_snakemake(root, *[str(Paths(slug).generated) for slug in (ABLATION, SINGLE)])
    for slug in (ABLATION, SINGLE):
        code = Paths(slug, root).code_dir
        config = yaml.safe_load((code / "config.yaml").read_text())
        config = ten_arms(config) if slug == ABLATION else {**config, "seeds": list(range(10))}
        (code / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        (code / "run.sh").rename(code / "generated_run.sh")
        (code / "run.sh").write_text(STANDIN_RUN)
    slurm_snakemake(root, f"prepare_{ABLATION}", f"prepare_{SINGLE}")
    for slug in (ABLATION, SINGLE):
        gate.approve(slug, root, who="bench")


def task_states(job: str) -> dict[str, str]:
    """Array index -> state for the job's tasks still in squeue (one line per task, pending ones too)."""
    out = subprocess.run(["squeue", "-h", "-r", "-j", job, "-o", "%i %T"], capture_output=True, text=True).stdout
    return {line.split()[0].rsplit("_", 1)[-1]: line.split()[1] for line in out.splitlines() if "_" in line}


def watch_start(job: str, count: int, returned_at: float, timeout: float = 600) -> tuple[float, float, int]:
    """(seconds after the return until as many tasks as fit were started, until all were, most running at once)."""
    started: dict[str, float] = {}
    most = 0
    fit_at = None
    deadline = time.perf_counter() + timeout
    while len(started) < count and time.perf_counter() < deadline:
        states = task_states(job)
        now = time.perf_counter() - returned_at
        running = [i for i, state in states.items() if state == "RUNNING"]
        most = max(most, len(running))
        for index in [str(i) for i in range(count)]:
            if index not in started and (states.get(index) == "RUNNING" or (states and index not in states)):
                started[index] = now  # running now, or already gone from the queue: it ran
        if not states and len(started) < count:  # the whole array has left the queue
            started.update({str(i): now for i in range(count) if str(i) not in started})
        if fit_at is None and (len(started) >= count or (most and len(running) < len(states))):
            fit_at = now  # as many as fit are running and the rest wait for room
        time.sleep(0.05)
    if len(started) < count:
        raise RuntimeError(f"job {job}: only {len(started)} of {count} tasks started within {timeout:.0f} s")
    return fit_at if fit_at is not None else max(started.values()), max(started.values()), most


def wait_ended(job: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while task_states(job) and time.monotonic() < deadline:
        time.sleep(0.2)


def deploy(root: Path, slug: str) -> tuple[float, dict]:
    """Seconds the deploy command took, and the run record it left."""
    started = time.perf_counter()
    slurm_snakemake(root, f"deploy_{slug}")
    seconds = time.perf_counter() - started
    return seconds, json.loads((root / "experiments" / "state" / slug / "run.json").read_text())


def timed_collect(root: Path, slug: str) -> float:
    started = time.perf_counter()
    out = slurm_snakemake(root, f"collect_{slug}")
    seconds = time.perf_counter() - started
    if "# Run Report" not in out:
        raise RuntimeError(f"collect_{slug} did not finish the run:\n{out[-3000:]}")
    return seconds


def hundred_tasks(tmp: Path) -> list[Result]:
    root = copy_wiki(tmp / "wiki root", keep_examples=True)
    (root / "config").mkdir(exist_ok=True)
    (root / "config" / "config.yaml").write_text("slurm:\n  time: '00:10:00'\n")
    wait_for_empty_queue()
    started = time.perf_counter()
    prepare_pages(root)
    print(
        f"    (setup: generate, widen to {ARMS} arms × 10 seeds, sanity runs on the cluster, approve: "
        f"{time.perf_counter() - started:.0f} s, not timed)",
        flush=True,
    )
    wait_for_empty_queue()
    seconds, record = deploy(root, ABLATION)
    returned_at = time.perf_counter()
    job, size = record["details"]["job_id"], record["details"]["array_size"]
    calls = sum(1 for event in record["history"] if event.get("event") == "sbatch")
    fit_s, all_s, most = watch_start(job, size, returned_at)
    room = subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True).stdout.split()
    print(
        f"    {size} tasks, {calls} sbatch call(s); the node has {room[0] if room else '?'} CPU(s), "
        f"{most} ran at once; "
        f"deploy_<slug> took {seconds:.2f} s; after it returned, {min(most, size)} were running in {fit_s:.2f} s, "
        f"all {size} had started in {all_s:.1f} s",
        flush=True,
    )
    wait_ended(job)
    _, single = deploy(root, SINGLE)
    wait_ended(single["details"]["job_id"])
    # A collect finishes a run once; both ended runs are kept and put back (same path: run records hold absolute
    # paths) before each round, collected alternately.
    ended = tmp / "ended runs"
    shutil.copytree(root, ended, symlinks=True)
    many, one = [], []
    for _ in range(COLLECT_ROUNDS):
        shutil.rmtree(root)
        shutil.copytree(ended, root, symlinks=True)
        many.append(timed_collect(root, ABLATION))
        one.append(timed_collect(root, SINGLE))
    return [
        report(
            Result(
                f"slurm {size} tasks: after deploy_<slug> returned, the {min(most, size)} that fit RUNNING "
                f"({calls} sbatch call; all started after {all_s:.1f} s)",
                fit_s,
                seconds,
                "time",
                1.0,
                "to running, after the return",
                "deploy_<slug> itself",
            ),
            [fit_s],
            [seconds],
        ),
        report(
            Result(
                f"slurm collect_<slug>: {ARMS} arms × 10 seeds vs one arm × 10 seeds",
                min(many),
                min(one),
                "diff",
                0.5,
                f"{size} tasks",
                "10 tasks",
            ),
            many,
            one,
        ),
    ]


def run() -> list[Result]:
    start_cluster()
    results = []
    with temp_dir("slurm-workflow") as tmp:
        header(f"SLURM: {ARMS} arms × 10 seeds through deploy_<slug> (one array) and collect_<slug>")
        results += hundred_tasks(tmp)
    header(f"SLURM: {SEEDS} seeds as one sbatch array vs {SEEDS} Snakemake jobs through the executor plugin")
    with temp_dir("exprun-bench-slurm") as tmp:
        (tmp / "array").mkdir()
        (tmp / "plugin").mkdir()
        array_s, sbatch_calls = array_run(tmp / "array")
        print(f"    sbatch calls for {SEEDS} seeds: {sbatch_calls}")
        plugin_s = plugin_run(tmp / "plugin")
    return results + [
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
