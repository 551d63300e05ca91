"""What the page decides stays decided when a generator writes config.yaml.

The success criteria, seeds, metrics, baseline, dataset and arms are the experiment's design, read from the
page (spec.build_spec) before any generator runs — what the page states, not the built-in recipe's
defaults. A generator (an LLM, a coding agent) writes its own config.yaml and often leaves some of them out —
then the verdict would silently fall back to defaults, or prepare would blame the page for the generator's
omission. So:
- a key the generator's config.yaml leaves out is added from exprun's reading of the page, at the end of the
  file (nothing the generator wrote is changed), and the round's record says which;
- a key the generator set to something else than the page states is its choice, but the gate shows it as a
  `!! CHECK` line, the page's value → the file's, so a person confirms the change of design.
A config.yaml a person edited is the person's: its values are never questioned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from exprun.core import yamlread
from exprun.core.files import atomic_write_text, read_json
from exprun.core.paths import Paths
from exprun.prepare.codegen import criteria, manifest, metric_names
from exprun.wiki.pages import Page

SAID = "# Added by exprun: the page decides these and the generator's config.yaml left them out.\n"


def reading(config: dict, page: Page, criteria_read: list, seeds_named: bool) -> dict:
    """What the page itself decides, from exprun's reading of it (`config`: spec.build_spec's): only what the
    page states — never the built-in recipe's defaults (its accuracy/F1, three seeds, a Δ > 0 criterion), which
    a generator closer to the page may rightly replace."""
    stated: dict[str, Any] = {}
    dataset = config.get("dataset") or {}
    if dataset.get("name") or dataset.get("path"):
        stated["dataset"] = dataset
    named = [str(m) for m in page.get("metrics") or []]
    if named and all(metric_names.recipe_metric(m) for m in named):  # the page's metrics, as the recipe names them
        stated |= {key: config[key] for key in ("metrics", "primary_metric", "higher_is_better")}
    if criteria.page_baseline(page)[0]:
        stated["baseline"] = config["baseline"]
    if seeds_named:
        stated["seeds"] = config["seeds"]
    if page.get("success_criteria") or any(r.became for r in criteria_read):
        stated["success_criteria"] = config["success_criteria"]
    if config.get("arms"):
        stated["arms"] = config["arms"]
    return stated


def complete(folder: Path, page: dict) -> list[str]:
    """Append to `folder`/config.yaml each page-decided key it lacks; the keys added (none when the file is
    missing or unreadable: the sanity run and the gate say what is wrong with it). The manifest is kept in
    step — the addition is exprun's, not a person's edit, and each file keeps the generator that wrote it."""
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
        manifest.write_manifest(folder, files, recorded.get("generator", "built-in"), manifest.written_by(folder))
    return list(missing)


def _comparable(key: str, value: Any) -> Any:
    """What must agree for the design to be the same: the dataset's name and path, the arms' names and roles,
    the criteria as stated (not where exprun read them); the rest as written."""
    if key == "dataset" and isinstance(value, dict):
        return {k: value.get(k) for k in ("name", "path") if value.get(k)}
    if key == "arms" and isinstance(value, list):
        return [f"{a.get('name')} ({a.get('role', 'control')})" for a in value if isinstance(a, dict)]
    if key == "success_criteria" and isinstance(value, list):
        return [{k: v for k, v in c.items() if k != "source"} if isinstance(c, dict) else c for c in value]
    return value


def _changed(key: str, page: Any, current: Any) -> bool:
    """The baseline may be named in other words (filled in when left out, never compared); the file may
    report more metrics than the page names, not fewer."""
    if key == "baseline":
        return False
    if key == "metrics" and isinstance(page, list) and isinstance(current, list):
        return not set(map(str, page)) <= set(map(str, current))
    if key == "higher_is_better" and isinstance(page, dict) and isinstance(current, dict):
        return any(k in current and current[k] != v for k, v in page.items())
    return _comparable(key, page) != _comparable(key, current)


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
    current = yamlread.load_mapping(code / "config.yaml")
    lines = []
    for key, value in page.items():
        if key in current and _changed(key, value, current[key]):
            lines.append(
                f"{code}/config.yaml {key}: read from the page {_show(_comparable(key, value))} → the file "
                f"{_show(_comparable(key, current[key]))} (written by the generator); approve only if the "
                "design is meant to change"
            )
    return lines
