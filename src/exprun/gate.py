"""The human gate: nothing is deployed until a person approved exactly this code.

`exprun approve` writes the stamp with who, when and a hash of the code folder
(config.yaml included). A bare `touch` of the stamp is accepted too; it is then
judged by modification times instead of the hash. No rule ever writes it.
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from .codegen import manifest
from .errors import GateError
from .files import atomic_write_json, atomic_write_text, read_json
from .state import Paths


def approve(slug: str, root: Path = Path("."), who: str | None = None) -> dict:
    """Record a person's approval of the code as it is now."""
    paths = Paths(slug, root)
    if not (paths.code_dir / "train.py").exists():
        raise GateError(f"nothing to approve: {paths.code_dir}/train.py does not exist; run `snakemake prepare_{slug}` first")
    stamp = {
        "slug": slug,
        "approved_by": who or _login_name(),
        "approved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "code_hash": manifest.folder_hash(paths.code_dir),
        "files": {p.relative_to(paths.code_dir).as_posix(): manifest.file_hash(p) for p in manifest.code_files(paths.code_dir)},
        "sanity_passed": paths.sanity.exists(),
    }
    atomic_write_json(paths.approval, stamp)
    return stamp


def _login_name() -> str:
    try:
        return os.getlogin()
    except OSError:
        return getpass.getuser()


def read_stamp(slug: str, root: Path = Path(".")) -> dict | None:
    """The stamp's content; {} for a bare touch, None when absent."""
    path = Paths(slug, root).approval
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def stale_files(slug: str, root: Path = Path(".")) -> list[str] | None:
    """Files changed since approval; None when there is no approval at all."""
    paths = Paths(slug, root)
    stamp = read_stamp(slug, root)
    if stamp is None:
        return None
    files = manifest.code_files(paths.code_dir)
    if stamp.get("code_hash"):
        if stamp["code_hash"] == manifest.folder_hash(paths.code_dir):
            return []
        approved = stamp.get("files", {})
        current = {p.relative_to(paths.code_dir).as_posix(): manifest.file_hash(p) for p in files}
        changed = [rel for rel in current if approved.get(rel) != current[rel]]
        changed += [f"{rel} (deleted)" for rel in approved if rel not in current]
        return sorted(changed) or ["(code folder changed)"]
    stamped_at = paths.approval.stat().st_mtime
    return sorted(p.relative_to(paths.code_dir).as_posix() for p in files if p.stat().st_mtime > stamped_at)


def verify(slug: str, settings: dict, root: Path = Path(".")) -> dict:
    """Pass when the approval covers the current code; else GateError with the checklist."""
    paths = Paths(slug, root)
    changed = stale_files(slug, root)
    if changed == []:
        record = {"slug": slug, "code_hash": manifest.folder_hash(paths.code_dir), "stamp": read_stamp(slug, root),
                  "verified_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        atomic_write_json(paths.approval_ok, record)
        if paths.gate_message.exists():
            paths.gate_message.unlink()
        return record
    if changed is None:
        headline = f"Approval needed: {slug} has passed its sanity run and waits for a person to review it."
    else:
        headline = (f"Approval of {slug} is stale: these files changed after it was approved — "
                    f"{', '.join(changed)}. Review them and approve again.")
    message = checklist(slug, settings, root, headline)
    atomic_write_text(paths.gate_message, message + "\n")
    raise GateError(message)


def require_current(slug: str, root: Path = Path(".")) -> str:
    """The approved hash, re-checked at the moment of launch (code may change after the gate)."""
    changed = stale_files(slug, root)
    if changed is None:
        raise GateError(f"{slug}: no approval; review and run `exprun approve {slug}`")
    if changed:
        raise GateError(f"{slug}: approval is stale ({', '.join(changed)} changed); review and run `exprun approve {slug}` again")
    return manifest.folder_hash(Paths(slug, root).code_dir)


def checklist(slug: str, settings: dict, root: Path, headline: str) -> str:
    """What a person must look at before approving, and the exact commands."""
    paths = Paths(slug, root)
    code = paths.code_dir
    config = _yaml(code / "config.yaml")
    sanity = read_json(paths.sanity)
    dataset = read_json(paths.dataset)
    review = read_json(paths.review)
    context = read_json(paths.context)
    hp = config.get("hyperparameters", {})
    changed_by_person = manifest.human_changes(code)
    files = ", ".join(p.relative_to(code).as_posix() for p in manifest.code_files(code))
    python = settings["python"] or "the python running exprun"
    key_env = settings["review_llm"]["api_key_env"]
    lines = [
        headline, "",
        "Review before approving:",
        f"  1. Code        {code}/  ({files})" + (f"\n                 edited by a person: {', '.join(changed_by_person)}" if changed_by_person else ""),
        f"  2. Dataset     {dataset.get('summary', 'not checked')}",
        f"  3. Settings    {code}/config.yaml: lr={hp.get('learning_rate')}, batch_size={hp.get('batch_size')}, "
        f"epochs={hp.get('epochs')}, seeds={config.get('seeds')}, metrics={config.get('metrics')}, "
        f"success={json.dumps(config.get('success_criteria'))}",
        f"  4. Environment env_activate={settings['env_activate'] or '(none)'}; python={python}; "
        f"review endpoint={settings['review_llm']['base_url'] or '(none)'}; API key from ${key_env} "
        f"({'set' if os.environ.get(key_env) else 'not set'})",
        f"  5. GPU plan    {_gpu_plan(context, settings)}",
        f"  6. Sanity run  {_sanity_line(sanity)}",
        f"  7. Code review {_review_line(review, code)}",
        f"     Notes       {code}/CONTEXT.md (what was read and what the recipe could not map)",
        "",
        "Approve (records who, when and the code hash):",
        f"  exprun approve {slug}        # or: touch {paths.approval}",
        "then run the same command again:",
        f"  snakemake deploy_{slug}",
    ]
    return "\n".join(lines)


def _yaml(path: Path) -> dict:
    import yaml  # noqa: PLC0415

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}


def _gpu_plan(context: dict, settings: dict) -> str:
    if not context.get("needs_gpu"):
        return f"none (setup.hardware: {context.get('experiment', {}).get('setup', {}).get('hardware') or 'empty'})"
    gpu = settings["gpu"]
    return f"{gpu['count']} GPU(s), chosen at deploy: < {gpu['free_memory_mib']} MiB used and no compute process"


def _sanity_line(sanity: dict) -> str:
    if not sanity:
        return "not run"
    parts = [f"{sanity.get('status')} in {sanity.get('wall_time_s')} s"]
    if "first_loss" in sanity:
        parts.append(f"loss {sanity['first_loss']:.4f} → {sanity['last_loss']:.4f}")
    if sanity.get("seconds_per_step"):
        parts.append(f"{sanity['seconds_per_step']:.4f} s/step")
    if sanity.get("metrics"):
        parts.append("metrics " + ", ".join(f"{k}={v:.4f}" for k, v in sanity["metrics"].items() if isinstance(v, (int, float))))
    return "; ".join(parts)


def _review_line(review: dict, code: Path) -> str:
    if review.get("status") == "reviewed":
        return f"reviewed by {review.get('model')}: verdict {review.get('verdict')} — read {code}/REVIEW.md"
    return f"unreviewed ({review.get('reason', 'review not run')})"
