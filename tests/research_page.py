"""A research page no built-in recipe covers (a CSV, a numpy method, a majority-class baseline), and the code a
generator might write for it: working, crashing, and the two as a generator's reply or a coding agent's files.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np

SLUG = "blobs-softmax-vs-majority"
BASELINE = "majority-class predictor"

PAGE = f"""---
title: "Softmax regression vs the majority class on blobs"
slug: "{SLUG}"
status: planned
hypothesis: "Softmax regression trained by full-batch gradient descent beats the majority-class predictor
  on accuracy by at least 10 points."
setup:
  model: "softmax regression, full-batch gradient descent, written in numpy"
  dataset: "data/blobs.csv"
  hardware: "cpu"
  framework: "numpy"
metrics: [accuracy]
baseline: "{BASELINE}"
linked_idea: "small-mlp-beats-linear-on-digits"
estimated_hours: 1
---

## Objective

Does a linear softmax model separate the blobs better than predicting the most common class?

## Procedure

1. Split 80/20 per seed, train softmax regression for 200 steps, evaluate accuracy on the held-out 20 %.
2. Score the majority-class predictor on the same split. Higher is better.

## Results

(to be filled after /exp-run)
"""

CONFIG = f"""slug: {SLUG}
seeds: [0, 1, 2]
metrics: [accuracy]
primary_metric: accuracy
higher_is_better: {{accuracy: true}}
baseline: {{name: majority_class, description: "{BASELINE}"}}
success_criteria: [{{metric: accuracy, vs: baseline, min_delta: 0.1}}]
dataset: {{path: data/blobs.csv}}
hyperparameters: {{learning_rate: 0.5, steps: 200}}
paths: {{results_dir: results/{SLUG}, checkpoint_dir: checkpoints/{SLUG}}}
progress: loss
"""

TRAIN = textwrap.dedent('''\
    """Softmax regression by gradient descent vs the majority class, on a CSV (last column: the label)."""
    import argparse, json, os, time
    from pathlib import Path

    import numpy as np
    import yaml

    HERE = Path(__file__).resolve().parent


    def main():
        parser = argparse.ArgumentParser()
        parser.add_argument("--seed", type=int, required=True)
        parser.add_argument("--sanity", action="store_true")
        parser.add_argument("--results-dir")
        parser.add_argument("--checkpoint-dir")
        parser.add_argument("--resume", action="store_true")
        parser.add_argument("--lr", type=float)
        parser.add_argument("--log-every", type=int, default=20)
        args = parser.parse_args()
        cfg = yaml.safe_load((HERE / "config.yaml").read_text())
        lr = args.lr or cfg["hyperparameters"]["learning_rate"]
        steps = 20 if args.sanity else cfg["hyperparameters"]["steps"]
        every = 1 if args.sanity else args.log_every
        data = np.loadtxt(cfg["dataset"]["path"], delimiter=",", skiprows=1)
        CRASH_HERE
        X, y = data[:, :-1], data[:, -1].astype(int)
        rng = np.random.default_rng(args.seed)
        order = rng.permutation(len(y))
        X, y = X[order], y[order]
        cut = int(0.8 * len(y))
        Xtr, ytr, Xte, yte = X[:cut], y[:cut], X[cut:], y[cut:]
        classes = int(y.max()) + 1
        W, b = rng.normal(0, 0.01, (X.shape[1], classes)), np.zeros(classes)
        started = time.time()
        for step in range(1, steps + 1):
            z = Xtr @ W + b
            z -= z.max(1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(1, keepdims=True)
            loss = -np.log(p[np.arange(len(ytr)), ytr] + 1e-12).mean()
            p[np.arange(len(ytr)), ytr] -= 1
            p /= len(ytr)
            W -= lr * Xtr.T @ p
            b -= lr * p.sum(0)
            if step % every == 0 or step == steps:
                print(f"step={step}/{steps} loss={loss:.4f}", flush=True)
        accuracy = float(((Xte @ W + b).argmax(1) == yte).mean())
        majority = float((yte == np.bincount(ytr).argmax()).mean())
        print(f"eval accuracy={accuracy:.4f}")
        print(f"baseline accuracy={majority:.4f}")
        out = Path(args.results_dir or cfg["paths"]["results_dir"])
        out.mkdir(parents=True, exist_ok=True)
        result = {"slug": cfg["slug"], "seed": args.seed, "metrics": {"accuracy": accuracy},
                  "baseline_metrics": {"accuracy": majority}, "steps": steps,
                  "wall_time_s": time.time() - started, "run_id": os.environ.get("EXPRUN_RUN_ID", ""),
                  "sanity": args.sanity, "contract": 1}
        if os.environ.get("EXPRUN_CODE_HASH"):
            result["code_hash"] = os.environ["EXPRUN_CODE_HASH"]
        tmp = out / f".seed_{args.seed}.tmp"
        tmp.write_text(json.dumps(result))
        tmp.replace(out / f"seed_{args.seed}.json")


    if __name__ == "__main__":
        main()
''')

WORKING = TRAIN.replace("    CRASH_HERE\n", "")
CRASHING = TRAIN.replace("CRASH_HERE", "scale = len(data) // 0  # divides by the number of folds, not set yet")
STILL_CRASHING = TRAIN.replace("CRASH_HERE", "data = data[:, 99]  # the label column, wrongly indexed")


def files(train: str = WORKING, **extra: str) -> dict[str, str]:
    return {"train.py": train, "config.yaml": CONFIG, **extra}


def agent_files(folder: Path, train: str = WORKING) -> None:
    """Write the same files a coding agent would leave in its folder (for codegen.command scenarios)."""
    for rel, text in files(train).items():
        (folder / rel).write_text(text)


def make_wiki(root: Path, example_wiki: Path) -> Path:
    """The example wiki plus this page and its CSV."""
    import shutil

    shutil.copytree(example_wiki, root)
    return add_page(root)


def add_page(root: Path) -> Path:
    """This page and its CSV (three separable blobs in 4-D, 300 rows) in a wiki."""
    (root / "wiki" / "experiments" / f"{SLUG}.md").write_text(PAGE)
    rng = np.random.default_rng(7)
    centres = np.array([[0, 0, 0, 0], [3, 3, 0, 0], [0, 3, 3, 3]], dtype=float)
    labels = np.array([0] * 150 + [1] * 100 + [2] * 50)
    points = centres[labels] + rng.normal(0, 0.8, (len(labels), 4))
    (root / "data").mkdir()
    rows = ["x1,x2,x3,x4,label"]
    rows += [",".join(f"{v:.4f}" for v in point) + f",{label}" for point, label in zip(points, labels, strict=True)]
    (root / "data" / "blobs.csv").write_text("\n".join(rows) + "\n")
    return root


def as_json(data: dict) -> str:
    return json.dumps(data)
