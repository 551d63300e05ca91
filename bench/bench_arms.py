"""Arms × seeds: parallel tasks, and collecting many arms.

1. 4 arms × 5 seeds of the demo recipe (sklearn MLP on digits, 2 epochs: a short CPU task) run by the generated
   run.sh with EXPRUN_PARALLEL=2 against EXPRUN_PARALLEL=1 on this machine, end to end. Target: ≥ 1.7x faster.
2. What collect computes for 20 arms × 50 seeds (reading 1,000 seed files, the intervals and paired differences,
   the Results section) against the same for 1 arm × 50 seeds. Target: ≤ +0.5 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import yaml

from common import Result, best, copy_wiki, header, report, temp_dir, timed

SLUG = "digits-mlp-vs-logreg"


def run() -> list[Result]:
    from exprun.core import config
    from exprun.experiment import arms
    from exprun.experiment.experiment_config import ExperimentConfig
    from exprun.prepare.codegen import generate
    from exprun.verdict import arm_results, results

    results_list = []
    header("arms: 4 arms × 5 seeds, run.sh with 2 tasks at a time vs 1")
    with temp_dir("arms") as tmp:
        root = copy_wiki(tmp / "wiki", keep_examples=True)
        generate.generate(SLUG, config.parse({}), root)
        path = root / "experiments" / "code" / SLUG / "config.yaml"
        cfg = yaml.safe_load(path.read_text())
        cfg["hyperparameters"]["epochs"] = 2
        cfg["seeds"] = [0, 1, 2, 3, 4]
        cfg["arms"] = [
            {"name": "full", "role": "control"},
            {"name": "no-hidden", "role": "ablation", "overrides": {"model": {"hidden_sizes": []}}},
            {"name": "wide", "role": "sweep", "overrides": {"model": {"hidden_sizes": [128]}}},
            {"name": "no-wd", "role": "ablation", "overrides": {"hyperparameters": {"weight_decay": 0.0}}},
        ]
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        tasks = " ".join(arms.tasks(arms.of(cfg), cfg["seeds"]))

        def run_tasks(parallel: int) -> float:
            env = {**os.environ, "EXPRUN_TASKS": tasks, "EXPRUN_PARALLEL": str(parallel), "EXPRUN_RUN_ID": "bench"}
            env.pop("OMP_NUM_THREADS", None)
            started = time.perf_counter()
            done = subprocess.run(
                ["bash", f"experiments/code/{SLUG}/run.sh"],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
            return time.perf_counter() - started

        one, two = [], []
        for _ in range(2):  # interleaved: the machine's state weighs on both alike
            one.append(run_tasks(1))
            two.append(run_tasks(2))
        results_list.append(
            report(
                Result(
                    "20 tasks, parallel 1 vs parallel 2 (speed-up = A/B)",
                    best(one),
                    best(two),
                    kind="speedup",
                    target=1.7,
                    a_label="parallel 1",
                    b_label="parallel 2",
                ),
                one,
                two,
            )
        )

    header("arms: collect's reading and statistics, 20 arms × 50 seeds vs 1 arm × 50 seeds")
    with temp_dir("arms-collect") as tmp:
        seeds = list(range(50))

        def write(folder, count):
            for a in range(count):
                target = folder / f"arm{a:02d}"
                target.mkdir(parents=True)
                for s in seeds:
                    (target / f"seed_{s}.json").write_text(
                        json.dumps(
                            {"seed": s, "metrics": {"accuracy": 0.9 + 0.001 * ((s * 7 + a) % 13)}, "run_id": "r"}
                        )
                    )

        def collect_arms(folder, count):
            cfg = {
                "seeds": seeds,
                "metrics": ["accuracy"],
                "primary_metric": "accuracy",
                "arms": [{"name": "arm00", "role": "control"}]
                + [{"name": f"arm{a:02d}", "role": "ablation"} for a in range(1, count)],
            }
            found = arms.of(cfg)
            values, not_counted = arm_results.read(folder, found, seeds, results.CountRules("r"), "accuracy")
            arm_results.results_section(
                arm_results.summarize(found, values, not_counted, ExperimentConfig.from_mapping(cfg))
            )

        def collect_single(folder):
            cfg = {"seeds": seeds, "metrics": ["accuracy"], "primary_metric": "accuracy"}
            found = results.read_seed_files(folder / "arm00", seeds, results.CountRules("r"))
            results.summarize(found.records, ExperimentConfig.from_mapping(cfg))

        write(tmp / "many", 20)
        write(tmp / "one", 1)
        many = [timed(lambda: collect_arms(tmp / "many", 20)) for _ in range(5)]
        single = [timed(lambda: collect_single(tmp / "one")) for _ in range(5)]
        results_list.append(
            report(
                Result(
                    "collect, 20 arms × 50 seeds vs 1 arm × 50 seeds",
                    best(many),
                    best(single),
                    kind="diff",
                    target=0.5,
                    a_label="20 arms",
                    b_label="1 arm",
                ),
                many,
                single,
            )
        )
    return results_list
