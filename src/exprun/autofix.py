"""The one automatic fix an experiment may ever get, and its record.

NaN/inf/exploding loss → restart from the latest checkpoint with the learning
rate × `autofix.lr_factor`; OOM → restart with the batch size ×
`autofix.batch_factor` (resuming when a checkpoint exists). Anything else is
reported, never fixed. One fix at most, so a broken run cannot loop forever.

The fix works through the run contract's flags (--lr, --batch-size, --resume). When the program does
not list the flag it needs (its `--help` at the sanity run), or config.yaml has no value to lower, the
fix is recorded as "not applied" with the reason instead of relaunching an unchanged run.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from . import contract, gate, wikilog
from .experiment_config import load_experiment_config
from .errors import GateError
from .files import atomic_write_json
from .monitor import Anomaly
from .state import Paths
from .settings import Settings


def already_fixed(slug: str, root: Path) -> bool:
    return Paths(slug, root).autofix.exists()


def plan_fix(anomaly: Anomaly, config: dict, settings: Settings, has_checkpoint: bool) -> tuple[list[str], str]:
    """(extra train.py arguments, human description of the change)."""
    hp = config.get("hyperparameters") or {}
    factors = settings.autofix
    if anomaly.kind == "oom":
        old = int(hp.get("batch_size") or 1)
        new = max(1, int(old * factors.batch_factor))
        args = ["--batch-size", str(new)] + (["--resume"] if has_checkpoint else [])
        return args, f"batch_size {old} → {new}" + (", resumed from checkpoint" if has_checkpoint else ", restarted")
    old_lr = float(hp.get("learning_rate") or 0.001)
    new_lr = old_lr * factors.lr_factor
    return ["--resume", "--lr", f"{new_lr:g}"], f"learning_rate {old_lr:g} → {new_lr:g}, resumed from the latest checkpoint"


def blocked(args: list[str], anomaly: Anomaly, config: dict, flags: list[str] | None) -> str:
    """Why the planned fix cannot apply to this program ("" when it can)."""
    if config.get("arms"):
        return "a run of several arms is not relaunched as a whole (rerunning only the failed tasks is not built yet)"
    hp = config.get("hyperparameters") or {}
    key = "batch_size" if anomaly.kind == "oom" else "learning_rate"
    if not isinstance(hp, dict) or not isinstance(hp.get(key), (int, float, str)) or hp.get(key) in ("", None):
        return f"config.yaml has no hyperparameters.{key} to lower"
    if flags is not None:
        missing = [a for a in args if a.startswith("--") and a not in flags]
        if missing:
            return f"the program does not take {', '.join(missing)} (its --help; see {contract.DOC})"
    return ""


def apply(slug: str, settings: Settings, root: Path, seen, backend) -> dict | None:
    """Stop and relaunch once for the first fixable anomaly; None when no fix applies."""
    record = seen.record
    if not backend.supports_autofix or record.foreign:  # someone else's command: not ours to relaunch
        return None
    if not settings.autofix.enabled or already_fixed(slug, root) or record.autofix:
        return None
    anomaly = next((a for a in seen.anomalies if a.fixable), None)
    if anomaly is None:
        return None
    paths = Paths(slug, root)
    if gate.require_current(slug, root) != record.approved_hash:
        raise GateError(f"{slug}: the automatic fix would relaunch other code than this run's (approved again since "
                        f"it started); no fix applied — collect when it ends, or stop it and deploy anew")
    config = load_experiment_config(slug, root)
    has_checkpoint = any(paths.checkpoint_dir.glob("seed_*")) if paths.checkpoint_dir.exists() else False
    args, change = plan_fix(anomaly, config, settings, has_checkpoint)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    reason = blocked(args, anomaly, config, contract.known_flags(slug, root, record.approved_hash))
    if reason:
        fix = {"anomaly": anomaly.kind, "detail": anomaly.detail, "change": reason,
               "args": [], "at": now, "applied": False}
        record.autofix = fix
        record.save(paths.run)
        atomic_write_json(paths.autofix, fix)
        wikilog.append_log(Path(root) / "wiki", f"exp-run | autofix {slug} | {anomaly.kind} → not applied: {reason}")
        return None
    backend.stop(record)
    fresh, log_offset = backend.relaunch(record, args)
    fix = {"anomaly": anomaly.kind, "detail": anomaly.detail, "change": change, "args": args, "at": now, "applied": True}
    record.pid, record.boot_id = fresh.pid, fresh.boot_id
    record.autofix = fix
    record.history.append({"event": "relaunch", "at": now, "log_offset": log_offset, "args": args})
    record.save(paths.run)
    atomic_write_json(paths.autofix, fix)
    wikilog.append_log(Path(root) / "wiki", f"exp-run | autofix {slug} | {anomaly.kind} → {change}")
    return fix
