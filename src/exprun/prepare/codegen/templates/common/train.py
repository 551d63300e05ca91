"""Train one seed of this experiment and write its results JSON.

Run from the wiki root:  python experiments/code/<slug>/train.py --seed 0 [--sanity]
Settings come from config.yaml next to this file; the flags override them.
data.py supplies load_data(cfg) and model.py supplies build_model(cfg, dataset, run),
which returns a utils.Learner; the loop, logging, checkpoints and results live here.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path(__file__).resolve().with_name("config.yaml"))
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument(
        "--arm", help="run this arm of config.yaml `arms` (its overrides; results under <results-dir>/<arm>/)"
    )
    parser.add_argument("--sanity", action="store_true", help="tiny run that checks the pipeline end to end")
    parser.add_argument("--resume", action="store_true", help="continue from this seed's checkpoint if present")
    parser.add_argument("--lr", type=float)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument("--log-every", type=int)
    parser.add_argument("--results-dir")
    parser.add_argument("--checkpoint-dir")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="pytorch recipe only")
    return parser.parse_args(argv)


# The command line is read before numpy, sklearn and the recipe load, so `--help` (how exprun reads the
# run contract's flags) answers at once.
ARGS = parse_args() if __name__ == "__main__" else None

import data  # noqa: E402
import model  # noqa: E402
import numpy as np  # noqa: E402
import utils  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402

# CLI flag (argparse dest) -> key under `hyperparameters:` in config.yaml.
HYPERPARAMETERS = {
    "lr": "learning_rate",
    "batch_size": "batch_size",
    "epochs": "epochs",
    "weight_decay": "weight_decay",
    "log_every": "log_every",
}
PATH_FLAGS = ("results_dir", "checkpoint_dir")


@dataclasses.dataclass
class Progress:
    """Where training stands; checkpointed with the shuffle RNG so a resumed run draws the same batches."""

    step: int
    epoch: int
    rng: np.random.Generator


def resolve_run(cfg: dict, args: argparse.Namespace) -> utils.Run:
    """Merge config and flags; an explicit flag wins even over the sanity limits."""
    values = {flag: cfg["hyperparameters"][key] for flag, key in HYPERPARAMETERS.items()}
    values.update({flag: cfg["paths"][flag] for flag in PATH_FLAGS})
    limits = cfg["sanity"] if args.sanity else {}
    if args.sanity:
        values["epochs"] = limits["epochs"]
    overrides = {flag: getattr(args, flag) for flag in values if getattr(args, flag) is not None}
    values.update(overrides)
    run = utils.Run(
        seed=args.seed,
        sanity=args.sanity,
        device=args.device,
        lr=float(values["lr"]),  # float() also accepts "1e-3", which YAML reads as a string
        batch_size=int(values["batch_size"]),
        epochs=int(values["epochs"]),
        weight_decay=float(values["weight_decay"]),
        log_every=int(values["log_every"]),
        max_steps=limits.get("max_steps"),
        train_subset=limits.get("subset"),
        results_dir=Path(values["results_dir"]),
        checkpoint_dir=Path(values["checkpoint_dir"]),
        overrides=overrides,
    )
    if run.batch_size < 1 or run.log_every < 1 or run.epochs < 0:
        raise ValueError(f"need batch_size >= 1, log_every >= 1, epochs >= 0; got {run}")
    return run


def fit_baseline(cfg: dict, dataset: utils.Dataset, seed: int) -> dict[str, float] | None:
    """Score a simple reference model on the same split, so the main model's numbers have context."""
    if utils.baseline_name(cfg) in utils.NOT_RUN_BASELINES:
        return None
    if dataset.n_classes:
        estimator = LogisticRegression(max_iter=1000, random_state=seed).fit(dataset.X_train, dataset.y_train)
        # Columns follow estimator.classes_, which may lack a class absent from a small training subset.
        proba = np.zeros((len(dataset.X_test), dataset.n_classes))
        proba[:, estimator.classes_] = estimator.predict_proba(dataset.X_test)
        y_pred = estimator.predict(dataset.X_test)
    else:
        y_pred, proba = LinearRegression().fit(dataset.X_train, dataset.y_train).predict(dataset.X_test), None
    scores = utils.evaluate(cfg["metrics"], dataset, y_pred, proba)
    utils.log(f"baseline {utils.format_metrics(scores)}")
    return scores


def resume(learner: utils.Learner, path: Path, run: utils.Run) -> Progress | None:
    """Restore this seed's checkpoint when there is one from the same kind of run."""
    if not path.exists():
        utils.log(f"no checkpoint at {path}; starting from scratch")
        return None
    checkpoint = learner.load(path)
    if checkpoint["sanity"] != run.sanity:
        # A sanity checkpoint saw a subset for a few steps; continuing it would taint a full run.
        kind = "sanity" if checkpoint["sanity"] else "full"
        utils.log(f"ignoring {path}: it comes from a {kind} run; starting from scratch")
        return None
    learner.restore(checkpoint, run)
    rng = np.random.default_rng()
    rng.bit_generator.state = checkpoint["rng_state"]
    utils.log(f"resumed seed={run.seed} from step={checkpoint['step']}")
    return Progress(checkpoint["step"], checkpoint["epoch"], rng)


def save_checkpoint(learner: utils.Learner, path: Path, progress: Progress, run: utils.Run) -> None:
    meta = {
        "step": progress.step,
        "epoch": progress.epoch,
        "rng_state": progress.rng.bit_generator.state,
        "sanity": run.sanity,
    }
    utils.atomic_write(path, lambda file: learner.save(file, meta))


def evaluate_learner(names: list[str], learner: utils.Learner, dataset: utils.Dataset) -> dict[str, float]:
    y_pred, proba = learner.predict(dataset.X_test)
    return utils.evaluate(names, dataset, y_pred, proba)


def train_epoch(
    learner: utils.Learner, dataset: utils.Dataset, run: utils.Run, progress: Progress, total: int
) -> float:
    """One shuffled pass over the training split, stopping early once `total` steps are done; returns the last loss."""
    order = progress.rng.permutation(len(dataset.y_train))
    loss = float("nan")
    for start in range(0, len(order), run.batch_size):
        batch = order[start : start + run.batch_size]
        loss = float(learner.train_step(dataset.X_train[batch], dataset.y_train[batch]))
        progress.step += 1
        if not math.isfinite(loss):  # the `loss=nan` line is what the monitor (and its one fix) acts on
            utils.log(utils.progress_line(progress.step, total, progress.epoch, loss, run.lr))
            raise utils.Diverged(f"loss={loss} at step {progress.step} (lr={run.lr:g}): training diverged")
        if progress.step % run.log_every == 0 or progress.step == total:
            utils.log(utils.progress_line(progress.step, total, progress.epoch, loss, run.lr))
        if progress.step >= total:
            break
    return loss


def train(
    names: list[str],
    learner: utils.Learner,
    dataset: utils.Dataset,
    run: utils.Run,
    progress: Progress,
    checkpoint: Path,
) -> dict[str, float]:
    """Run the remaining epochs, evaluating and checkpointing after each; return the final test scores."""
    steps_per_epoch = math.ceil(len(dataset.y_train) / run.batch_size)
    total = progress.step + max(run.epochs - progress.epoch, 0) * steps_per_epoch
    if run.max_steps is not None:
        total = min(total, run.max_steps)
    scores = None
    while progress.epoch < run.epochs and progress.step < total:
        progress.epoch += 1
        loss = train_epoch(learner, dataset, run, progress, total)
        scores = evaluate_learner(names, learner, dataset)
        utils.log(f"eval epoch={progress.epoch} {utils.format_metrics(scores)}")
        if math.isfinite(loss):
            save_checkpoint(learner, checkpoint, progress, run)
        else:
            # A resume (the automatic fix) must restart from weights that were still finite.
            utils.log(f"not saving checkpoint: loss={loss} (keeping the last finite one)")
    if scores is None:  # nothing left to train, e.g. resuming a finished run
        scores = evaluate_learner(names, learner, dataset)
    return scores


def write_results(
    cfg: dict,
    config_hash: str,
    run: utils.Run,
    scores: dict,
    baseline: dict | None,
    steps: int,
    wall_time_s: float,
    code_hash: str,
) -> None:
    """results/<slug>/seed_<N>.json; run_id and code_hash let collect count only this run's approved seeds."""
    result = {
        "slug": cfg["slug"],
        "seed": run.seed,
        **({"arm": cfg["arm_name"]} if cfg.get("arm_name") else {}),
        "metrics": utils.json_safe(scores),
        "run_id": os.environ.get("EXPRUN_RUN_ID", ""),
        "code_hash": code_hash,
    }
    if baseline is not None:
        result["baseline_metrics"] = utils.json_safe(baseline)
    result.update(
        steps=steps,
        wall_time_s=round(wall_time_s, 3),
        config_hash=config_hash,
        sanity=run.sanity,
        overrides=run.overrides,
    )
    utils.write_json(run.results_dir / f"seed_{run.seed}.json", result)


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = ARGS if argv is None and ARGS is not None else parse_args(argv)
    code_hash = utils.code_hash(Path(os.path.abspath(__file__)).parent)  # the code as this seed found it
    cfg, config_hash = utils.load_config(args.config, args.arm)
    run = resolve_run(cfg, args)
    if args.arm:  # each arm's results and checkpoints in a folder of its own
        run = dataclasses.replace(
            run, results_dir=run.results_dir / args.arm, checkpoint_dir=run.checkpoint_dir / args.arm
        )
    utils.seed_everything(run.seed)
    try:
        dataset = data.load_data(cfg)
    except utils.DatasetNotFoundError as err:
        print(err, file=sys.stderr)
        return 2
    if run.train_subset:
        dataset = dataset.head(run.train_subset)
    learner = model.build_model(cfg, dataset, run)
    baseline = fit_baseline(cfg, dataset, run.seed)
    checkpoint = run.checkpoint_dir / f"seed_{run.seed}{learner.checkpoint_suffix}"
    progress = resume(learner, checkpoint, run) if args.resume else None
    if progress is None:  # --seed also sets the batch order
        progress = Progress(step=0, epoch=0, rng=np.random.default_rng(run.seed))
    try:
        scores = train(cfg["metrics"], learner, dataset, run, progress, checkpoint)
    except utils.Diverged as err:
        print(f"diverged: {err}; lower the learning rate (or resume with --resume --lr)", file=sys.stderr)
        return 3
    utils.log(f"done seed={run.seed} {utils.format_metrics(scores)}")
    peak = utils.gpu_peak_mib()
    if peak is not None:  # the run contract's resource line: deploy needs this much free on each GPU
        utils.log(f"gpu_peak_mib={peak}")
    write_results(cfg, config_hash, run, scores, baseline, progress.step, time.perf_counter() - started, code_hash)
    return 0


if __name__ == "__main__":
    sys.exit(main())
