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

from exprun.core.errors import GateError
from exprun.core.files import atomic_write_json, atomic_write_text, read_json
from exprun.core.invocation import snakemake_command
from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.gate import approved_copy
from exprun.gate.checklist import checklist
from exprun.prepare.codegen import manifest
from exprun.trust import integrity

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
    from exprun.wiki.lifecycle import find_experiment

    find_experiment(slug, root)  # a mistyped slug is named with the experiments there are, not told to prepare it
    paths = Paths(slug, root)
    if not (paths.code_dir / "train.py").exists() and not (paths.code_dir / "run.sh").exists():
        raise GateError(
            f"nothing to approve: {paths.code_dir}/ has no run.sh or train.py; "
            f"run `{snakemake_command(f'prepare_{slug}')}` first"
        )
    _require_stamp_path(paths)
    stamp = {
        "slug": slug,
        "approved_by": who or _login_name(),
        "approved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "code_hash": code_hash(paths),
        "files": integrity.file_hashes(paths.code_dir),
        "links": dict(integrity.links(paths.code_dir)),
        "page_fields": page_fields(slug, root),
        "sanity_passed": paths.sanity.exists(),
    }
    approved_copy.keep(paths)
    atomic_write_json(paths.approval, stamp)
    paths.approval_binding.unlink(missing_ok=True)
    return stamp


def _login_name() -> str:
    try:
        return os.getlogin()
    except OSError:
        return getpass.getuser()


def code_hash(paths: Paths) -> str:
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
        "code_hash": code_hash(paths),
        "files": integrity.file_hashes(paths.code_dir),
        "page_fields": page_fields(slug, root),
        "accepted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    approved_copy.keep(paths)
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
    if approval.code_hash != code_hash(paths):
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


def _stale_headline(paths: Paths, changed: list[str], approved_hash: str) -> str:
    """What changed since the approval: the files, with a short diff of each, and the page fields."""
    page = [c for c in changed if c.startswith("page field ")]
    code = [c for c in changed if not c.startswith("page field ") and not c.startswith("(")]
    parts = []
    if code or len(page) < len(changed):
        parts.append(f"these files changed after it was approved — {', '.join(code) or '(code folder changed)'}")
    if page:
        parts.append(f"the page changed after it was approved — {'; '.join(c[len('page field ') :] for c in page)}")
    headline = f"Approval of {paths.slug} is stale: {' and '.join(parts)}. Review them and approve again."
    if not code or not approved_hash:  # a bare touch older than the code approved no bytes to compare with
        return headline
    return "\n".join([headline, *approved_copy.diff_lines(paths, approved_hash, code)])


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
        headline = _stale_headline(paths, changed, approved_hash)
    message = checklist(slug, settings, root, headline)
    atomic_write_text(paths.gate_message, message + "\n")
    raise GateError(message)


def prepared(slug: str, settings: Settings, root: Path = Path(".")) -> str:
    """What `prepare_<slug>` ends with: the checklist to review and how to approve (or that the approval already
    covers this code), then the deploy command. Writes nothing: preparing is not a refusal."""
    changed, approved_hash = _compare(slug, root)
    deploy = snakemake_command(f"deploy_{slug}")
    if changed == []:
        return f"{slug}: prepared, and the approval covers this code ({approved_hash[:12]}); next: {deploy}"
    if changed is None:
        headline = f"Prepared: {slug} has passed its sanity run; review it, approve it, then deploy."
    else:
        headline = _stale_headline(Paths(slug, root), changed, approved_hash)
    return checklist(slug, settings, root, headline, then=f"then deploy:\n  {deploy}")


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
