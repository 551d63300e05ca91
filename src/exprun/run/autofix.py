"""The one automatic fix an experiment may ever get, and its record.

NaN/inf/exploding loss → restart from the latest checkpoint with the learning
rate × `autofix.lr_factor`; OOM → restart with the batch size ×
`autofix.batch_factor` (resuming when a checkpoint exists). Anything else is
reported, never fixed. One fix at most, so a broken run cannot loop forever.

One path for every run (`apply`): what is due (`due`: the whole run while it runs, or the tasks of an ended
multi-arm run), whether it may apply (the run's own code, the flags, the values to lower), one relaunch.

The fix works through the run contract's flags (--lr, --batch-size, --resume) and relaunches the run's own
approved snapshot, planned from the snapshot's config.yaml: an edit or a new approval of the live code folder
changes nothing it runs. When the program does not list the flag it needs (its `--help` at the sanity run),
config.yaml has no value to lower, or the snapshot no longer holds the approved bytes, the fix is recorded as
"not applied" with the reason instead of relaunching (an unchanged run, or other code than the run's).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from exprun.core.errors import GateError
from exprun.core.files import atomic_write_json
from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.experiment.experiment_config import ExperimentConfig, load_run_config
from exprun.gate import approval as gate
from exprun.logs.monitor import Anomaly
from exprun.prepare import contract
from exprun.run import autofix_tasks
from exprun.run.backends import Run
from exprun.trust import snapshot
from exprun.wiki import wikilog


def already_fixed(slug: str, root: Path) -> bool:
    return Paths(slug, root).autofix.exists()


def plan_fix(
    anomaly: Anomaly, config: ExperimentConfig, settings: Settings, has_checkpoint: bool, restart: bool = False
) -> tuple[list[str], str]:
    """(extra train.py arguments, human description of the change). A run stopped mid-way resumes (each seed
    from its latest checkpoint); `restart`: a task that already ended starts again from scratch."""
    hp = config.hyperparameters
    factors = settings.autofix
    if anomaly.kind == "oom":
        old = int(hp.get("batch_size") or 1)
        new = max(1, int(old * factors.batch_factor))
        resume = has_checkpoint and not restart
        args = ["--batch-size", str(new)] + (["--resume"] if resume else [])
        return args, f"batch_size {old} → {new}" + (", resumed from checkpoint" if resume else ", restarted")
    old_lr = float(hp.get("learning_rate") or 0.001)
    new_lr = old_lr * factors.lr_factor
    if restart:
        return ["--lr", f"{new_lr:g}"], f"learning_rate {old_lr:g} → {new_lr:g}, restarted"
    return [
        "--resume",
        "--lr",
        f"{new_lr:g}",
    ], f"learning_rate {old_lr:g} → {new_lr:g}, resumed from the latest checkpoint"


def blocked(args: list[str], anomaly: Anomaly, config: ExperimentConfig, flags: list[str] | None) -> str:
    """Why the planned fix cannot apply to this program ("" when it can)."""
    hp = config.hyperparameters
    key = "batch_size" if anomaly.kind == "oom" else "learning_rate"
    if not isinstance(hp.get(key), (int, float, str)) or hp.get(key) in ("", None):
        return f"config.yaml has no hyperparameters.{key} to lower"
    if flags is not None:
        missing = [a for a in args if a.startswith("--") and a not in flags]
        if missing:
            return f"the program does not take {', '.join(missing)} (its --help; see {contract.DOC})"
    return ""


def apply(slug: str, settings: Settings, root: Path, seen, run: Run) -> dict | None:
    """The one fix, by one path for every run: what is due, whether it may apply, then one relaunch.
    None when nothing was relaunched (nothing due, or recorded as not applied with its reason)."""
    record = run.record
    if not run.launcher.supports_autofix or record.foreign:  # someone else's command: not ours to relaunch
        return None
    if not settings.autofix.enabled or already_fixed(slug, root) or record.autofix:
        return None
    paths = Paths(slug, root)
    config = load_run_config(slug, root, record.snapshot)
    fixes = due(seen, run, config, settings, paths)
    if not fixes:
        return None
    args, env = autofix_tasks.relaunch_env(fixes) if fixes[0].task else (fixes[0].args, None)
    reason = not_this_runs_code(slug, root, run) or why_not(fixes, config, env, run, paths)
    if reason:
        _not_applied(paths, record, fixes[0].anomaly, reason)
        _tell(settings, paths, record)
        return None
    if not fixes[0].task:
        run.stop()
        fix = _relaunched(paths, run, fixes[0].anomaly, fixes[0].change, args)
    else:
        assert env is not None
        rerun = env["EXPRUN_TASKS"].split()
        kept = {t: c for t, c in autofix_tasks.failed_tasks(record, seen.lines, paths.log).items() if t not in rerun}
        extra = {"tasks": rerun, "kept_failed": kept}
        fix = _relaunched(paths, run, fixes[0].anomaly, autofix_tasks.describe(fixes), args, env, extra)
    _tell(settings, paths, run.record)
    return fix


def _tell(settings: Settings, paths: Paths, record) -> None:
    """The `autofix` event: what the one fix changed, or why it could not (the person acts then)."""
    from exprun.run import notify, notify_events

    notify.announce(notify_events.autofix(record, paths.root, record.autofix), settings.notify, paths.root, "autofix")


def due(seen, run: Run, config: ExperimentConfig, settings: Settings, paths: Paths) -> list[autofix_tasks.TaskFix]:
    """What the fix would change. A single-arm run is fixed while it runs: stopped and resumed from its
    checkpoints as one task (task ""). A multi-arm run is not stopped while healthy tasks are still going:
    once it has ended, each task whose own log shows a fixable anomaly is rerun (autofix_tasks)."""
    if config.single_arm:
        anomaly = next((a for a in seen.anomalies if a.fixable), None)
        if anomaly is None:
            return []
        has_checkpoint = any(paths.checkpoint_dir.glob("seed_*")) if paths.checkpoint_dir.exists() else False
        args, change = plan_fix(anomaly, config, settings, has_checkpoint)
        return [autofix_tasks.TaskFix("", anomaly, args, change)]
    if seen.state.alive or not run.launcher.supports_task_reruns:
        return []
    return autofix_tasks.plan(
        run, config, settings, lambda anomaly, arm_config: plan_fix(anomaly, arm_config, settings, False, restart=True)
    )


def why_not(
    fixes: list[autofix_tasks.TaskFix], config: ExperimentConfig, env: dict | None, run: Run, paths: Paths
) -> str:
    """Why the planned changes cannot apply to this program ("" when they can), each task's in its own words."""
    flags = contract.known_flags(paths.slug, paths.root, run.record.approved_hash)
    if not fixes[0].task:
        return blocked(fixes[0].args, fixes[0].anomaly, config, flags)
    reasons = [
        f"task {f.task}: {why}"
        for f in fixes
        if (why := blocked(f.args, f.anomaly, autofix_tasks.arm_config(config, f.task), flags))
    ]
    code = paths.root / (run.record.snapshot or paths.code_dir)
    if env and env["EXPRUN_TASK_ARGS"] and "EXPRUN_TASK_ARGS" not in _run_sh(code):
        reasons.append("the tasks need different changes and run.sh does not read EXPRUN_TASK_ARGS (regenerate it)")
    return "; ".join(reasons)


def not_this_runs_code(slug: str, root: Path, run: Run) -> str:
    """Why a relaunch would not run this run's approved code ("" when it would). Said and recorded like any
    other reason the fix cannot apply — never raised, or the ended run could never be collected.

    A run from a snapshot relaunches that snapshot: whatever the live folder holds or was approved as since,
    it is still the run's code, unless the snapshot itself changed (checked here where it lives here, and by
    the guard wherever the relaunch starts)."""
    record = run.record
    if record.snapshot:
        wrong = snapshot.problem(Path(root) / record.snapshot, record.approved_hash) if run.code_is_here else ""
        return (
            f"the run's snapshot no longer holds its approved code ({wrong}); a relaunch would not run it"
            if wrong
            else ""
        )
    try:
        current = gate.require_current(slug, root)
    except GateError as exc:
        return f"the code folder is not approved code now ({exc}); a relaunch would run it"
    if current != record.approved_hash:
        return (
            f"the code was approved again ({current[:12]}) since this run started ({record.approved_hash[:12]}); "
            "a relaunch would mix two versions — collect this run, then deploy the new code"
        )
    return ""


def _run_sh(code: Path) -> str:
    try:
        return (code / "run.sh").read_text(errors="replace")
    except OSError:
        return ""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _not_applied(paths: Paths, record, anomaly: Anomaly, reason: str) -> None:
    """Record (run record, autofix.json, wiki log) that the one fix was due but could not apply, and why."""
    fix = {
        "anomaly": anomaly.kind,
        "detail": anomaly.detail,
        "change": reason,
        "args": [],
        "at": _now(),
        "applied": False,
    }
    record.autofix = fix
    record.save(paths.run)
    atomic_write_json(paths.autofix, fix)
    wikilog.append_log(paths.root / "wiki", f"exp-run | autofix {paths.slug} | {anomaly.kind} → not applied: {reason}")
    return None


def _relaunched(
    paths: Paths,
    run: Run,
    anomaly: Anomaly,
    change: str,
    args: list[str],
    env: dict | None = None,
    extra: dict | None = None,
) -> dict:
    """Relaunch under the same session and run id, and record the one fix everywhere a person looks."""
    now = _now()
    log_offset = run.relaunch(args, env)
    record = run.record
    fix = {
        "anomaly": anomaly.kind,
        "detail": anomaly.detail,
        "change": change,
        "args": args,
        "at": now,
        "applied": True,
    }
    record.autofix = fix
    record.history.append({"event": "relaunch", "at": now, "log_offset": log_offset, "args": args, **(extra or {})})
    record.save(paths.run)
    atomic_write_json(paths.autofix, fix)
    wikilog.append_log(paths.root / "wiki", f"exp-run | autofix {paths.slug} | {anomaly.kind} → {change}")
    return fix
