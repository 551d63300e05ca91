"""The generator's repair rounds — the specification's "fix code based on review" and "if sanity fails → fix
code, retry once": repairs of the code before the gate (the automatic fix is the run's, after it: run/autofix).
Only a generator that can repair (codegen.llm, codegen.command) runs them; with the built-in recipes the
review is for the person and a failed sanity run stops at once. So does one that failed only for want of a
GPU (sanity.hardware_only): a fix round there would spend a generator call and a second sanity run on what no
code change can fix.
"""

from __future__ import annotations

from pathlib import Path

from exprun.core.errors import ExprunError, HardwareError, SanityError
from exprun.core.files import atomic_write_json, atomic_write_text
from exprun.core.invocation import run_again
from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.prepare import review, sanity
from exprun.prepare.codegen import generators, rounds
from exprun.trust import integrity

TRACEBACK_LINES = 200


def review_and_repair(slug: str, settings: Settings, root: Path = Path(".")) -> dict:
    """The review, then one fix round from it unless it found nothing (verdict ok) or nobody can fix."""
    record = review.review(slug, settings, root)
    if record["status"] != "reviewed" or record.get("verdict") == "ok":
        return record
    paths = Paths(slug, root)
    review_md = paths.code_dir / "REVIEW.md"
    text = review_md.read_text(encoding="utf-8")
    if generators.for_settings(settings) is None:
        record["fix"] = "none: the built-in recipes cannot act on a review; read REVIEW.md and edit the code"
        return _save_review(paths, record)
    try:
        entry = rounds.run_round(slug, settings, root, "fix-review", feedback=text)
    except ExprunError as exc:
        record["fix"] = f"failed: {str(exc).splitlines()[0]}"
        atomic_write_text(review_md, text + f"\n## Fix round\n\nFailed: {exc}\n")
        return _save_review(paths, record)
    diff = (Path(root) / entry["diff"]).read_text(encoding="utf-8") if entry.get("diff") else ""
    kept = f"\nKept unchanged (a person edited them): {', '.join(entry['kept'])}\n" if entry["kept"] else ""
    atomic_write_text(
        review_md,
        text
        + (
            f"\n## Fix round ({entry['generator']})\n\nChanged: {', '.join(entry['written']) or 'nothing'}\n{kept}"
            f"\nNotes of the generator:\n\n{entry.get('notes') or '(none)'}\n\n```diff\n{diff}```\n"
        ),
    )
    record.update(fix=rounds.describe(entry), code_hash=integrity.folder_hash(paths.code_dir))
    return _save_review(paths, record)


def _save_review(paths: Paths, record: dict) -> dict:
    atomic_write_json(paths.review, record)
    return record


def _traceback(log: Path) -> str:
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    start = max((i for i, line in enumerate(lines) if line.startswith("Traceback")), default=max(len(lines) - 60, 0))
    return "\n".join(lines[start : start + TRACEBACK_LINES])


def sanity_with_repair(slug: str, settings: Settings, root: Path = Path(".")) -> dict:
    """The sanity run; after a failure, one fix round with the report and traceback, then the run again.
    A failure of the machine's hardware (no GPU where the plan needs one) stops at once: code cannot fix it."""
    try:
        return sanity.run_sanity(slug, settings, root)
    except HardwareError:
        raise
    except SanityError as first:
        paths = Paths(slug, root)
        if generators.for_settings(settings) is None:
            raise SanityError(
                f"{first}\n(The built-in recipes have no automatic fix round: fix the code by hand.)"
            ) from None
        tried = [e for e in rounds.history(slug, root) if e["round"] == "fix-sanity" and not e.get("error")]
        if tried and tried[-1].get("code_hash_after") == integrity.folder_hash(paths.code_dir):
            raise SanityError(f"{first}\n(The automatic fix round already ran on this code; debug by hand.)") from None
        feedback = f"{first}\n\nTraceback / end of the log ({paths.sanity_log}):\n{_traceback(paths.sanity_log)}"
        try:
            entry = rounds.run_round(slug, settings, root, "fix-sanity", feedback=feedback)
        except ExprunError as exc:
            raise SanityError(
                f"{first}\n\nThe automatic fix round failed: {exc}\nDebug by hand: {paths.code_dir}/"
            ) from None
        try:
            report = sanity.run_sanity(slug, settings, root)
        except SanityError as second:
            rounds.mark(slug, root, entry["number"], "sanity still failed")
            raise SanityError(both_failures(slug, first, second, entry, paths)) from None
        rounds.mark(slug, root, entry["number"], "sanity passed after it")
        report["fix_round"] = rounds.describe(entry)
        atomic_write_json(paths.sanity, report)
        return report


def both_failures(slug: str, first: Exception, second: Exception, entry: dict, paths: Paths) -> str:
    kept = (
        (
            f"\nThe fix round left alone the files a person changed: {', '.join(entry['kept'])} — "
            "if the cause is there, it is yours to fix."
        )
        if entry["kept"]
        else ""
    )
    return "\n".join(
        [
            f"sanity run of {slug} failed twice: once as generated, once after the automatic fix round "
            f"({', '.join(entry['written']) or 'no file'} changed; diff: {entry['diff']}).{kept}",
            "",
            "── first failure ──",
            str(first),
            "",
            "── after the fix round ──",
            str(second),
            "",
            f"Debug by hand: read {paths.sanity_log}, edit {paths.code_dir}/, and {run_again('snakemake command')} "
            f"(`exprun check-code {slug}` checks the run contract).",
        ]
    )
