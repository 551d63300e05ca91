"""A run writes only its own experiment's folders: code or a config.yaml that names another experiment is refused.

exprun chooses where results go (every task gets `--results-dir` through $EXPRUN_RESULTS_DIR), but a program
that ignores it and follows a config.yaml copied from another experiment would write its seeds over that
experiment's evidence. So the gate says so with a CHECK line, and deploy refuses, when config.yaml's `slug`
is not this experiment's, or config.yaml or the code names another experiment's results, checkpoints or code
folder (`results/<other-slug>`, …), or a config value is exactly another experiment's slug.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

from exprun.core.errors import GateError
from exprun.core.paths import Paths
from exprun.experiment.experiment_config import ExperimentConfig
from exprun.trust import integrity

STRAY_WALK_LIMIT = 50_000  # entries: a wiki root with data in it must not make collect slow
STRAY_SKIP = {".git", ".venv", "node_modules", "snapshots", "wiki", "__pycache__"}

FOLDERS = r"(?:results|checkpoints|experiments/code|logs/exp-)"
TEXT_LIMIT = 1 << 20  # a bigger file is data, not code that names folders


def other_slugs(slug: str, root: Path) -> list[str]:
    folder = Path(root) / "wiki" / "experiments"
    return sorted(p.stem for p in folder.glob("*.md") if p.stem != slug) if folder.is_dir() else []


def _strings(value, key: str = ""):
    """(dotted key, text) of every string in a YAML value."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _strings(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{key}[{index}]")
    elif isinstance(value, str):
        yield key, value


def _pattern(others: list[str]) -> re.Pattern | None:
    if not others:
        return None
    names = "|".join(re.escape(o) for o in sorted(others, key=len, reverse=True))
    return re.compile(rf"(?<![\w-]){FOLDERS}/?({names})(?![\w-])")


def foreign_names(slug: str, root: Path, config: ExperimentConfig) -> list[str]:
    """Each place that names another experiment: `config.yaml slug: x`, `train.py: results/x`, …"""
    others = other_slugs(slug, root)
    pattern = _pattern(others)
    found = []
    named = config.raw.get("slug")
    if named is not None and str(named) != slug:
        found.append(f"config.yaml slug: {named}")
    for key, text in _strings({k: v for k, v in config.raw.items() if k != "slug"}):
        if text.strip() in others or (pattern and pattern.search(text)):
            found.append(f"config.yaml {key}: {text.strip()}")
    if pattern:
        for rel, path in integrity.code_files(Paths(slug, root).code_dir):
            if rel == "config.yaml":
                continue
            match = pattern.search(_text(path))
            if match:
                found.append(f"{rel}: {match.group(0)}")
    return found


def _text(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(TEXT_LIMIT).decode("utf-8", errors="replace")
    except OSError:
        return ""


def named_experiments(slug: str, root: Path, found: list[str]) -> str:
    """The other experiments the findings name, for the message's headline."""
    others = [
        o for o in other_slugs(slug, root) if any(re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", f) for f in found)
    ]
    return ", ".join(others) or "not this one"


def describe(slug: str, root: Path, found: list[str]) -> str:
    files = sorted({f.split(":", 1)[0].split(" ", 1)[0] for f in found})
    return (
        f"{' and '.join(files)} names another experiment ({named_experiments(slug, root, found)}): "
        f"{'; '.join(found)} — this run would write into that experiment's folders; make them this experiment's "
        f"({slug}) and approve again"
    )


def check_lines(slug: str, root: Path, config: ExperimentConfig) -> list[str]:
    """The gate's CHECK line when config.yaml or the code names another experiment's folders."""
    found = foreign_names(slug, root, config)
    return [f"Results: {describe(slug, root, found)}; deploy refuses until then"] if found else []


def require_own(slug: str, root: Path, config: ExperimentConfig) -> None:
    """Deploy's refusal: one line naming the files and values."""
    found = foreign_names(slug, root, config)
    if found:
        raise GateError(f"{slug}: {describe(slug, root, found)}")


def strays(slug: str, root: Path, started_at: str, limit: int = 10) -> list[str]:
    """Seed files a run may have written outside results/<slug>/ (a program that ignored --results-dir): every
    `seed_<N>.json` under the wiki root written since the launch, outside exprun's own folders; bounded."""
    from exprun.verdict.results import SEED_FILE  # the verdict engine, only at collect

    try:
        since = datetime.fromisoformat(started_at).timestamp() - 1
    except (TypeError, ValueError):
        return []
    root = Path(root)
    own = {Paths(slug, root).results_dir, root / "experiments" / "state"}
    found, visited = [], 0
    for current, dirs, files in os.walk(root):
        here = Path(current)
        dirs[:] = [d for d in dirs if d not in STRAY_SKIP and here / d not in own]
        visited += len(files) + len(dirs)
        for name in files:
            try:
                if SEED_FILE.fullmatch(name) and (here / name).stat().st_mtime >= since:
                    found.append((here / name).relative_to(root).as_posix())
            except OSError:  # gone, or a dangling link: not a file the run left
                continue
        if visited > STRAY_WALK_LIMIT or len(found) >= limit:
            break
    return sorted(found)[:limit]
