"""Rounds of a code generator: generate, then at most one fix after the review and one after a failed
sanity run. Each round leaves its prompt, its diff and a line in experiments/state/<slug>/codegen.json,
which the gate checklist shows.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from exprun.core.files import atomic_write_json, atomic_write_text, read_json
from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.prepare.codegen import generators, manifest, page_decisions, prompt, writer
from exprun.trust import integrity
from exprun.wiki import lifecycle, pages

MAX_FEEDBACK_CHARS = 30_000


def history(slug: str, root: Path) -> list[dict]:
    return list(read_json(Paths(slug, root).codegen_rounds).get("rounds") or [])


def _save(slug: str, root: Path, rounds: list[dict]) -> None:
    atomic_write_json(Paths(slug, root).codegen_rounds, {"rounds": rounds})


def current_files(folder: Path) -> dict[str, str]:
    """The code files as text (what a fix round shows the generator)."""
    found = {}
    for path in manifest.code_files(folder):
        try:
            found[path.relative_to(folder).as_posix()] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return found


def run_round(
    slug: str,
    settings: Settings,
    root: Path,
    round_name: str,
    feedback: str = "",
    proposed_config: str = "",
    force: bool = False,
) -> dict:
    """Ask the configured generator for one round and write what it returns (writer's rules)."""
    generator = generators.for_settings(settings)
    paths = Paths(slug, root)
    page = lifecycle.find_experiment(slug, root)
    context = read_json(paths.context)
    rounds = [] if round_name == "generate" else history(slug, root)
    number = len(rounds) + 1
    config_file = paths.code_dir / "config.yaml"
    config_yaml = config_file.read_text(encoding="utf-8") if config_file.is_file() else proposed_config
    text = prompt.build(
        round_name,
        pages.read_text(page.path),
        context,
        context.get("dataset_report", ""),
        config_yaml,
        current_files(paths.code_dir),
        feedback[-MAX_FEEDBACK_CHARS:],
    )
    prompt_file = paths.rounds_dir / f"{number}-{round_name}.prompt.md"
    atomic_write_text(prompt_file, text)
    entry = {
        "round": round_name,
        "number": number,
        "generator": generator.name,
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "prompt": prompt_file.relative_to(root).as_posix(),
        "code_hash_before": integrity.folder_hash(paths.code_dir),
    }
    try:
        proposal = generator.propose(generators.Request(round_name, text, prompt_file, paths.context, paths.code_dir))
        applied = writer.apply(
            paths.code_dir,
            proposal.files,
            generator.name,
            f"{generator.name} ({round_name})",
            settings.codegen.max_files,
            settings.codegen.max_bytes,
            force=force,
        )
    except Exception as exc:  # recorded, then raised: the gate shows the failed round too
        entry["error"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        _save(slug, root, rounds + [entry])
        raise
    if "config.yaml" in applied.written:  # the generator's own config: what the page decides, kept
        entry["from_page"] = page_decisions.complete(paths.code_dir, context.get("page_reading") or {})
    diff_file = paths.rounds_dir / f"{number}-{round_name}.diff"
    atomic_write_text(diff_file, applied.diff)
    entry.update(
        written=applied.written,
        kept=applied.kept,
        unchanged=applied.unchanged,
        notes=proposal.notes,
        diff=diff_file.relative_to(root).as_posix(),
        code_hash_after=integrity.folder_hash(paths.code_dir),
    )
    _save(slug, root, rounds + [entry])
    return entry


def describe(entry: dict) -> str:
    """One line of the gate checklist for a round."""
    if entry.get("error"):
        return f"{entry['round']} ({entry['generator']}): failed — {entry['error']}"
    parts = [f"{entry['round']} ({entry['generator']}): wrote {', '.join(entry.get('written') or []) or 'nothing'}"]
    if entry.get("kept"):
        parts.append(f"kept a person's {', '.join(entry['kept'])}")
    if entry.get("from_page"):
        parts.append(f"its config.yaml lacked {', '.join(entry['from_page'])}: added as the page says")
    if entry.get("outcome"):
        parts.append(entry["outcome"])
    return "; ".join(parts)


def mark(slug: str, root: Path, number: int, outcome: str) -> None:
    """Add what came of a round (e.g. the sanity run after a fix) to its record."""
    rounds = history(slug, root)
    for entry in rounds:
        if entry.get("number") == number:
            entry["outcome"] = outcome
    _save(slug, root, rounds)
