"""The human gate: nothing is deployed until a person approved exactly this code and this page.

`exprun approve` writes the stamp with who, when, a hash of the code folder
(config.yaml included, links followed) and a hash of the page fields the code
was generated from. A bare `touch` of the stamp is accepted too: the first time
it is accepted, when no code file is newer than it, the hashes it approved are
recorded in the state folder (`approval.binding.json`, never in the stamp), and
from then on judged by content, so an edit that keeps an old mtime is caught.
No rule ever writes the stamp. Every launch calls `require_current` itself.
"""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from exprun.core import yamlread
from exprun.core.errors import GateError
from exprun.core.files import atomic_write_json, atomic_write_text, read_json
from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.experiment.experiment_config import ExperimentConfig, readable
from exprun.prepare.codegen import manifest
from exprun.trust import integrity, snapshot
from exprun.verdict import run_scope

# The page fields the code is generated from: an edit to one of them makes the approval stale.
PAGE_FIELDS = ("setup", "metrics", "baseline", "success_criteria", "seeds")


@dataclass
class Approval:
    """What a person approved (by stamp or bare touch): the code's hashes and the page fields."""

    code_hash: str
    files: dict
    page_fields: dict


def page_fields(slug: str, root: Path) -> dict:
    """The approved page fields as plain JSON values (None when a field is absent)."""
    from exprun.wiki.lifecycle import find_experiment  # lifecycle imports pages; the gate is imported early

    page = find_experiment(slug, root)
    return json.loads(json.dumps({name: page.meta.get(name) for name in PAGE_FIELDS}, default=str))


def approve(slug: str, root: Path = Path("."), who: str | None = None) -> dict:
    """Record a person's approval of the code and the page as they are now."""
    paths = Paths(slug, root)
    if not (paths.code_dir / "train.py").exists() and not (paths.code_dir / "run.sh").exists():
        raise GateError(
            f"nothing to approve: {paths.code_dir}/ has no run.sh or train.py; run `snakemake prepare_{slug}` first"
        )
    _require_stamp_path(paths)
    stamp = {
        "slug": slug,
        "approved_by": who or _login_name(),
        "approved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "code_hash": _folder_hash(paths),
        "files": integrity.file_hashes(paths.code_dir),
        "links": dict(integrity.links(paths.code_dir)),
        "page_fields": page_fields(slug, root),
        "sanity_passed": paths.sanity.exists(),
    }
    atomic_write_json(paths.approval, stamp)
    paths.approval_binding.unlink(missing_ok=True)
    return stamp


def _login_name() -> str:
    try:
        return os.getlogin()
    except OSError:
        return getpass.getuser()


def _folder_hash(paths: Paths) -> str:
    try:
        return manifest.folder_hash(paths.code_dir)
    except integrity.LinkLoop as exc:
        raise GateError(f"{paths.code_dir}: {exc}") from None


def _require_stamp_path(paths: Paths) -> None:
    if paths.approval.is_dir():
        raise GateError(
            f"{paths.approval} is a folder, not a stamp; remove it (`rmdir {paths.approval}`) "
            f"and approve with `exprun approve {paths.slug}`"
        )


def read_stamp(slug: str, root: Path = Path(".")) -> dict | None:
    """The stamp's content; {} for a bare touch, None when absent."""
    paths = Paths(slug, root)
    _require_stamp_path(paths)
    if not paths.approval.exists():
        return None
    try:
        text = paths.approval.read_text(encoding="utf-8", errors="replace").strip()
    except OSError as exc:
        raise GateError(
            f"{paths.approval}: cannot read the approval stamp ({exc.strerror}); "
            f"fix its permissions or approve again with `exprun approve {slug}`"
        ) from None
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def current_approval(slug: str, root: Path = Path(".")) -> Approval | list[str] | None:
    """The approval in force; None when there is none; for a bare touch older than the code, the newer files."""
    paths = Paths(slug, root)
    stamp = read_stamp(slug, root)
    if stamp is None:
        return None
    if stamp.get("code_hash"):
        return Approval(stamp["code_hash"], stamp.get("files") or {}, stamp.get("page_fields") or {})
    mtime_ns = paths.approval.stat().st_mtime_ns
    binding = read_json(paths.approval_binding) if paths.approval_binding.is_file() else {}
    if binding.get("stamp_mtime_ns") == mtime_ns and binding.get("code_hash"):
        return Approval(binding["code_hash"], binding.get("files") or {}, binding.get("page_fields") or {})
    newer = sorted(
        rel
        for rel, path in integrity.code_files(paths.code_dir)
        if os.path.exists(path) and os.stat(path).st_mtime_ns > mtime_ns
    )
    if newer:
        return newer
    binding = {
        "stamp_mtime_ns": mtime_ns,
        "code_hash": _folder_hash(paths),
        "files": integrity.file_hashes(paths.code_dir),
        "page_fields": page_fields(slug, root),
        "accepted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write_json(paths.approval_binding, binding)
    return Approval(binding["code_hash"], binding["files"], binding["page_fields"])


def changes(slug: str, root: Path = Path(".")) -> list[str] | None:
    """What changed since the approval (code files, page fields); [] when current, None when unapproved."""
    return _compare(slug, root)[0]


def _compare(slug: str, root: Path) -> tuple[list[str] | None, str]:
    """(what changed since the approval, the approved code hash): the folder is hashed once per check."""
    paths = Paths(slug, root)
    approval = current_approval(slug, root)
    if approval is None or isinstance(approval, list):
        return approval, ""
    changed = []
    if approval.code_hash != _folder_hash(paths):
        current = integrity.file_hashes(paths.code_dir)
        changed += [rel for rel in current if approval.files.get(rel) != current[rel]]
        changed += [f"{rel} (deleted)" for rel in approval.files if rel not in current]
        changed = sorted(changed) or ["(code folder changed)"]
    if approval.page_fields:
        now = page_fields(slug, root)
        changed += [
            f"page field {name}: {json.dumps(approval.page_fields.get(name))} → {json.dumps(now.get(name))}"
            for name in PAGE_FIELDS
            if approval.page_fields.get(name) != now.get(name)
        ]
    return changed, approval.code_hash


def approved_files(slug: str, root: Path, code_hash: str) -> dict:
    """The per-file hashes recorded with an approved code hash (the stamp's, or a bare touch's binding); {} when
    none. Reads only: a status scan must not accept a bare touch on a person's behalf."""
    paths = Paths(slug, root)
    binding = read_json(paths.approval_binding) if paths.approval_binding.is_file() else {}
    for record in (read_stamp(slug, root) or {}, binding):
        if record.get("code_hash") == code_hash:
            return record.get("files") or {}
    return {}


def _stale_headline(slug: str, changed: list[str]) -> str:
    page = [c for c in changed if c.startswith("page field ")]
    code = [c for c in changed if not c.startswith("page field ")]
    parts = []
    if code:
        parts.append(f"these files changed after it was approved — {', '.join(code)}")
    if page:
        parts.append(f"the page changed after it was approved — {'; '.join(c[len('page field ') :] for c in page)}")
    return f"Approval of {slug} is stale: {' and '.join(parts)}. Review them and approve again."


def verify(slug: str, settings: Settings, root: Path = Path(".")) -> dict:
    """Pass when the approval covers the current code and page; else GateError with the checklist."""
    paths = Paths(slug, root)
    changed, approved_hash = _compare(slug, root)
    if changed == []:
        record = {
            "slug": slug,
            "code_hash": approved_hash,
            "stamp": read_stamp(slug, root),
            "verified_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        atomic_write_json(paths.approval_ok, record)
        if paths.gate_message.exists():
            paths.gate_message.unlink()
        return record
    if changed is None:
        headline = f"Approval needed: {slug} has passed its sanity run and waits for a person to review it."
    else:
        headline = _stale_headline(slug, changed)
    message = checklist(slug, settings, root, headline)
    atomic_write_text(paths.gate_message, message + "\n")
    raise GateError(message)


def require_current(slug: str, root: Path = Path(".")) -> str:
    """The approved hash, re-checked at the moment of launch (code and page may change after the gate)."""
    changed, approved_hash = _compare(slug, root)
    if changed is None:
        raise GateError(f"{slug}: no approval; review the code and run `exprun approve {slug}`")
    if changed:
        raise GateError(
            f"{slug}: approval is stale ({'; '.join(changed)}); review and run `exprun approve {slug}` again"
        )
    return approved_hash


def checklist(slug: str, settings: Settings, root: Path, headline: str) -> str:
    """What a person must look at before approving, and the exact commands."""
    paths = Paths(slug, root)
    code = paths.code_dir
    config, unreadable = readable(_yaml(code / "config.yaml"))
    sanity = read_json(paths.sanity)
    dataset = read_json(paths.dataset)
    review = read_json(paths.review)
    hp = config.hyperparameters
    changed_by_person = manifest.human_changes(code)
    files = ", ".join(rel for rel, _ in integrity.code_files(code))
    linked = "".join(
        f"\n                 link {rel} → {target} (hashed as its target)" for rel, target in integrity.links(code)
    )
    python = settings.python or "the python running exprun"
    key_env = settings.review_llm.api_key_env
    gpu_line, gpu_checks = _gpu_plan(slug, root, settings, sanity)
    env_lines, env_checks = _env_needs(code, config, settings, root)
    checks = gpu_checks + env_checks + run_scope.check_lines(slug, root, config)
    lines = [
        headline,
        "",
        *[f"!! CHECK  {text}" for text in checks],
        *([""] if checks else []),
        "Review before approving:",
        f"  1. Code        {code}/  ({files})"
        + (f"\n                 edited by a person: {', '.join(changed_by_person)}" if changed_by_person else "")
        + linked,
        *snapshot.gate_lines(code),
        "                 runs as approved: deploy copies exactly these bytes into snapshots/<hash>/ (read-only) "
        "and runs that",
        f"  2. Dataset     {dataset.get('summary', 'not checked')}",
        f"  3. Settings    {code}/config.yaml: lr={hp.get('learning_rate')}, batch_size={hp.get('batch_size')}, "
        f"epochs={hp.get('epochs')}, seeds={list(config.seeds)}, metrics={list(config.metrics)}",
        *_arms_lines(config, unreadable, settings, sanity, dataset, slug, root),
        f"  4. Environment env_activate={settings.env_activate or '(none)'}; python={python}; "
        f"review endpoint={settings.review_llm.base_url or '(none)'}; API key from ${key_env} "
        f"({'set' if os.environ.get(key_env) else 'not set'})",
        *env_lines,
        f"  5. GPU plan    {gpu_line}",
        f"  6. Sanity run  {_sanity_line(sanity)}",
        f"  7. Code review {_review_line(review, code)}",
        f"  8. Baseline    {_baseline_line(config)}",
        f"  9. Criteria    {_criteria_line(config)}",
        *_rounds_lines(slug, root),
        f"     Notes       {code}/CONTEXT.md (what was read and what the generator could not map)",
        *_note_lines(paths),
        "",
        "Approve (records who, when and the code hash):",
        f"  exprun approve {slug}        # or: touch {paths.approval}",
        "then run the same command again:",
        f"  snakemake deploy_{slug}",
    ]
    return "\n".join(lines)


def _yaml(path: Path) -> dict:
    import yaml

    try:
        return yamlread.load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}


def _gpu_plan(slug: str, root: Path, settings: Settings, sanity: dict) -> tuple[str, list[str]]:
    """The GPU plan line (with the free memory each GPU needs after the sanity peak) and the CHECK lines a person
    cannot miss: a page that asks for no GPU whose code uses CUDA."""
    from exprun.prepare.gpu_plan import gpu_plan, memory_need
    from exprun.wiki.lifecycle import find_experiment

    plan = gpu_plan(find_experiment(slug, root), Paths(slug, root).code_dir, settings.gpu.count)
    need = (
        memory_need(slug, root, _folder_hash(Paths(slug, root)), settings.gpu.memory_margin_mib)
        if plan.needed
        else None
    )
    checks = [f"GPU: {plan.contradiction_text()}"] if plan.contradiction else []
    return plan.describe(settings.gpu.free_memory_mib, need), checks


def _env_needs(code: Path, config: ExperimentConfig, settings: Settings, root: Path) -> tuple[list[str], list[str]]:
    """Each environment variable the code needs, set or NOT SET where the run will start (names only), and a
    CHECK line for the required ones that are not: deploy refuses until they are set."""
    from exprun.machines import env_needs

    found = env_needs.check_for_deploy(code, config, settings, root)
    lines = [f"                 {line}" for line in found.lines()]
    missing = found.missing()
    # screen here and on the server and a SLURM array refuse; seed jobs (full_via: jobs) would start and fail
    refuses = settings.full_via != "jobs"
    then = "deploy refuses until" if refuses else "the run fails unless"
    checks = (
        [
            f"Environment: {', '.join(n.name for n in missing)} NOT SET on {found.target} "
            f"({', '.join(n.where for n in missing)}); {then} "
            f"{'it is' if len(missing) == 1 else 'they are'} set there"
        ]
        if missing
        else []
    )
    unchecked = [n.name for n in found.needs if n.required] if found.set_names is None else []
    if unchecked:
        checks.append(
            f"Environment: {', '.join(unchecked)} not checked on {found.target} ({found.error}); "
            f"{'deploy refuses' if refuses else 'the run fails'} if any is not set there"
        )
    return lines, checks


def _sanity_line(sanity: dict) -> str:
    if not sanity:
        return "not run"
    parts = [f"{sanity.get('status')} in {sanity.get('wall_time_s')} s"]
    if "first_loss" in sanity:
        parts.append(f"loss {sanity['first_loss']:.4f} → {sanity['last_loss']:.4f}")
    if sanity.get("seconds_per_step"):
        parts.append(f"{sanity['seconds_per_step']:.4f} s/step")
    if sanity.get("metrics"):
        parts.append(
            "metrics " + ", ".join(f"{k}={v:.4f}" for k, v in sanity["metrics"].items() if isinstance(v, (int, float)))
        )
    return "; ".join(parts)


def _arms_lines(
    config: ExperimentConfig, unreadable: str, settings: Settings, sanity: dict, dataset: dict, slug: str, root: Path
) -> list[str]:
    """The arm matrix a person approves: each arm, its role and overrides, the task count and the compute."""
    from exprun.verdict.estimate import estimate_hours
    from exprun.wiki.lifecycle import find_experiment

    if unreadable:
        return [f"     Arms        INVALID: {unreadable}"]
    if config.single_arm:
        return []
    found, seeds = config.arms, len(config.seeds)
    parallel = settings.parallel or 1
    hours, basis = estimate_hours(sanity, dataset, config, find_experiment(slug, root).get("setup") or {}, parallel)
    lines = [
        f"     Arms        {len(found)} arms × {seeds} seeds = {len(found) * seeds} tasks, {parallel} at a time "
        f"(`parallel`{'; 0 = one per free GPU' if not settings.parallel else ''}); ~{hours} h ({basis})"
    ]
    lines += [
        f"                 - {a.name} ({a.role}{': ' + a.factor if a.factor and a.factor != a.name else ''}) "
        f"{json.dumps(a.overrides) if a.overrides else '(config as written)'}"
        for a in found
    ]
    return lines


def _baseline_line(config: ExperimentConfig) -> str:
    """The page's baseline and where its numbers will come from (said plainly when from nowhere)."""
    baseline = config.baseline
    name, text = str(baseline.get("name") or "none"), str(baseline.get("description") or "")
    if config.baseline_results:
        source = config.baseline_source or "source not given — add `source:`"
        return f"{text or name}: numbers from config.yaml baseline_results {dict(config.baseline_results)} ({source})"
    if name == "none":
        return "none: the page names no baseline, so the verdict compares nothing"
    if name == "control_arm":
        return f"“{text}”: the control arm, run by the code on the same seeds (every arm is compared with it)"
    if name == "not_implemented":
        return (
            f"“{text}” is NOT IMPLEMENTED by this code: implement it and write baseline_metrics, or add "
            "`baseline_results: {source: <paper or page>, metrics: {<metric>: <value>}}` to config.yaml"
        )
    return f"“{text or name}” run by the code on the same data and seeds ({name})"


def _criteria_line(config: ExperimentConfig) -> str:
    criteria = [dict(c) for c in config.success_criteria]
    text = json.dumps(criteria, ensure_ascii=False)
    if any(isinstance(c, dict) and "prose" in str(c.get("source", "")) for c in criteria):
        return f"{text} — read from the page's prose: confirm (quotes in CONTEXT.md)"
    return text


def _note_lines(paths: Paths, limit: int = 12) -> list[str]:
    """What the page asks that the code generation could not map (from context.json), said at the gate."""
    notes = [str(n) for n in read_json(paths.context).get("notes") or []]
    lines = [
        f"                 - {n.strip()}" if not n.startswith("  ") else f"                   {n.strip()}"
        for n in notes[:limit]
    ]
    return lines + ([f"                 … {len(notes) - limit} more in CONTEXT.md"] if len(notes) > limit else [])


def _rounds_lines(slug: str, root: Path) -> list[str]:
    from exprun.prepare.codegen import rounds

    done = rounds.history(slug, root)
    return [f"  {'10. Code rounds' if i == 0 else '              '} {rounds.describe(e)}" for i, e in enumerate(done)]


def _review_line(review: dict, code: Path) -> str:
    if review.get("status") == "reviewed":
        fix = f"; fix round: {review['fix']}" if review.get("fix") else ""
        return f"reviewed by {review.get('model')}: verdict {review.get('verdict')}{fix} — read {code}/REVIEW.md"
    return f"unreviewed ({review.get('reason', 'review not run')})"
