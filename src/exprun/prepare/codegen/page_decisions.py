"""What the page decides stays decided when a generator writes config.yaml.

The success criteria, seeds, metrics, baseline and dataset are the experiment's design, read from the page
(spec.build_spec) before any generator runs. A generator (an LLM, a coding agent) writes its own config.yaml
and often leaves some of them out — then the verdict would silently fall back to defaults, or prepare would
blame the page for the generator's omission. So:
- a key the generator's config.yaml leaves out is added from exprun's reading of the page, at the end of the
  file (nothing the generator wrote is changed), and the round's record says which;
- a key the generator set to something else than exprun read from the page (or its default, e.g. 3 seeds)
  is its choice, but the gate shows it as a `!! CHECK` line, the page's value → the file's, so a person
  confirms the change of design.
A config.yaml a person edited is the person's: its values are never questioned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from exprun.core import yamlread
from exprun.core.files import atomic_write_text, read_json
from exprun.core.paths import Paths
from exprun.prepare.codegen import manifest

PAGE_KEYS = ("dataset", "metrics", "primary_metric", "higher_is_better", "baseline", "seeds", "success_criteria")
SAID = "# Added by exprun: the page decides these and the generator's config.yaml left them out.\n"


def reading(config: dict) -> dict:
    """The page-decided part of exprun's own config (what context.json keeps for later rounds and the gate)."""
    return {key: config[key] for key in PAGE_KEYS if key in config}


def _load(path: Path) -> dict:
    try:
        data = yamlread.load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def complete(folder: Path, page: dict) -> list[str]:
    """Append to `folder`/config.yaml each page-decided key it lacks; the keys added (none when the file is
    missing or unreadable: the sanity run and the gate say what is wrong with it). The manifest is kept in
    step, so the addition does not read as a person's edit."""
    path = Path(folder) / "config.yaml"
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8")
    try:
        current = yamlread.load(text)
    except yaml.YAMLError:
        return []
    if not isinstance(current, dict):
        return []
    missing = {key: value for key, value in page.items() if key not in current}
    if not missing:
        return []
    added = yaml.safe_dump(missing, sort_keys=False, allow_unicode=True)
    atomic_write_text(path, text + ("" if text.endswith("\n") or not text else "\n") + "\n" + SAID + added)
    recorded = manifest.read_manifest(folder)
    if "config.yaml" in recorded.get("files", {}):
        files = {**recorded["files"], "config.yaml": manifest.file_hash(path)}
        manifest.write_manifest(folder, files, recorded.get("generator", "built-in"))
    return list(missing)


def _comparable(key: str, value: Any) -> Any:
    """What must agree for the design to be the same: the dataset's name and path, the baseline's name, the
    metrics as a set; the rest as written."""
    if key == "dataset" and isinstance(value, dict):
        return {k: value.get(k) for k in ("name", "path") if value.get(k)}
    if key == "baseline" and isinstance(value, dict):
        return value.get("name")
    if key == "metrics" and isinstance(value, list):
        return sorted(map(str, value))
    return value


def _show(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, allow_unicode=True).strip()
    text = text.removesuffix("...").strip()
    return text if len(text) <= 100 else text[:99] + "…"


def check_lines(slug: str, root: Path) -> list[str]:
    """A `!! CHECK` line for each page-decided key that config.yaml changed: "config.yaml seeds: read from the
    page [0] → the file [0, 1, 2]". None for a config.yaml a person edited (the gate names those)."""
    paths = Paths(slug, root)
    page = read_json(paths.context).get("page_reading") or {}
    code = paths.code_dir
    if not page or "config.yaml" in manifest.human_changes(code):
        return []
    current = _load(code / "config.yaml")
    lines = []
    for key, value in page.items():
        if key in current and _comparable(key, current[key]) != _comparable(key, value):
            lines.append(
                f"{code}/config.yaml {key}: read from the page {_show(_comparable(key, value))} → the file "
                f"{_show(_comparable(key, current[key]))} (written by the generator); approve only if the "
                "design is meant to change"
            )
    return lines
