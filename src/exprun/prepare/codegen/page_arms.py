"""The arms a page declares, for the built-in recipes: list lines and tables, read the same way.

Lines, in any section: "- Ablation: without weight decay (expect marginal)",
"- Sweep: learning_rate in [0.0003, 0.001, 0.003]" (a sweep line over several settings is a grid).

Tables in `## Setup` or `## Procedure` — the common way to lay out an ablation matrix or a sweep:

    | Arm      | Role     | Change                                   |
    |----------|----------|------------------------------------------|
    | full     | control  | —                                        |
    | no-wd    | ablation | without weight decay (expect marginal)   |
    | lr-1e-2  | sweep    | learning rate = 0.01                     |
    | wide     | sweep    | hidden units = 256                       |

A table is an arm table when its header names the arm (arm, variant, condition, configuration, name, run, model)
and what differs (change, ablation, modification, override, differs, removes, what changes); a table of
settings (| Setting | Value |) describes the method and declares no arm. Each row
becomes a config.yaml arm the built-in recipes run: removing a component the recipe has (the hidden layer,
weight decay), or setting hidden units, layers, learning rate, weight decay, epochs or batch size. A row's
role is its Role column when it has one, else read from the change ("without X" is an ablation, "x = v" a
sweep point, no change the control). A baseline row is not an arm here: the recipe runs its baseline beside
the method on every seed. A row the recipe cannot express is left out and listed, with the config.yaml entry
to write for it.
"""

from __future__ import annotations

import re
from typing import Any

from exprun.experiment import arms
from exprun.wiki import sections
from exprun.wiki.pages import Page

TABLE_SECTIONS = r"^(setup|procedure|design|arms|ablations?|sweeps?|conditions)\b"
NAME_HEADER = re.compile(r"^(arm|variant|condition|config(uration)?|name|run|model)s?$", re.I)
CHANGE_HEADER = re.compile(r"change|ablat|modif|override|differ|remov|what", re.I)
ROLE_HEADER = re.compile(r"^(role|kind|type)$", re.I)
EXPECT_HEADER = re.compile(r"^expect(ed)?(\s+class)?$", re.I)
ROLES = {"control": "control", "full": "control", "ablation": "ablation", "sweep": "sweep", "baseline": "baseline"}
NOTHING = re.compile(r"^(—|-|–|none|n/?a|\(none\)|nothing|full( model)?|as is|unchanged|default)?$", re.I)
WITHOUT = re.compile(r"^\s*(?:without|no|remove[sd]?|w/o|drop(?:s|ped)?|minus|−)\s+(.+?)\s*$", re.I)
SETTING = re.compile(r"^\s*([A-Za-z][A-Za-z _.-]*?)\s*(?:=|:|→|->|\bto\b|\bof\b)\s*([^\s,;]+)\s*$")
EXPECTED = re.compile(r"\(\s*expect(?:ed)?\s*:?\s*([a-z ,/]+?)\s*\)", re.I)
CLASSES = re.compile(r"essential|contributing|marginal|harmful", re.I)
ABLATION_LINE = re.compile(
    r"^\s*[-*]\s*ablation\s*:\s*(?:(?:without|no|remove|w/o)\s+)?(.+?)\s*"
    r"(?:\(\s*expect(?:ed)?\s*:?\s*([a-z ,/]+?)\s*\))?\s*$",
    re.I | re.M,
)
SWEEP_LINE = re.compile(r"^\s*[-*]\s*sweep\s*:\s*([A-Za-z_. ]+?)\s+(?:in|over|=)\s*[\[{(](.+?)[\]})]", re.I | re.M)

# what the built-in recipes can remove, and the settings they can change (page words → config path)
REMOVABLE: tuple[tuple[str, dict[str, Any]], ...] = (
    (r"hidden|non-?linear", {"model": {"hidden_sizes": []}}),
    (r"weight[\s_-]?decay|\bl2\b", {"hyperparameters": {"weight_decay": 0.0}}),
)
SETTINGS = {
    "learning_rate": "hyperparameters.learning_rate",
    "lr": "hyperparameters.learning_rate",
    "batch_size": "hyperparameters.batch_size",
    "batch": "hyperparameters.batch_size",
    "weight_decay": "hyperparameters.weight_decay",
    "wd": "hyperparameters.weight_decay",
    "epochs": "hyperparameters.epochs",
    "hidden_units": "model.hidden_sizes",
    "hidden_size": "model.hidden_sizes",
    "width": "model.hidden_sizes",
    "layers": "model.layers",
    "hidden_layers": "model.layers",
    "depth": "model.layers",
}


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every Markdown table in `text`: (header cells, rows of cells), the separator row dropped."""
    found, block = [], []
    for line in [*text.splitlines(), ""]:
        if line.strip().startswith("|"):
            block.append(_cells(line))
            continue
        if len(block) >= 2 and all(re.fullmatch(r":?-{2,}:?", c) for c in block[1] if c):
            found.append((block[0], [row for row in block[2:] if any(row)]))
        block = []
    return found


def _column(header: list[str], pattern: re.Pattern) -> int | None:
    return next((i for i, h in enumerate(header) if pattern.search(_plain(h))), None)


def _plain(cell: str) -> str:
    return re.sub(r"[*_`]", "", cell).strip()


def _number(text: str) -> int | float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() and not re.search(r"[.eE]", text) else value


def _settings(change: str, units: int) -> dict | None:
    """A change that sets recipe settings, one or several ("learning rate = 0.01", "lr = 0.01, wd = 0",
    "hidden units: 256 and 3 layers"); None when any part is not one the recipe has."""
    merged: dict = {}
    for part in re.split(r"\s*(?:,|;|\band\b|\+)\s*", change.strip()):
        one = _setting(part, units) if part else None
        if one is None:
            return None
        merged = arms.merge(merged, one)
    return merged or None


def _setting_key(text: str) -> str:
    return text.strip().lower().replace(" ", "_").replace("-", "_")


def _setting(change: str, units: int) -> dict | None:
    """A change that sets one recipe setting ("learning rate = 0.01", "hidden units: 256", "3 layers")."""
    count = re.fullmatch(r"\s*(\d+)\s+(hidden\s+)?layers?\s*", change, re.I)
    match = SETTING.match(change)
    if count:
        key, value = "layers", _number(count.group(1))
    elif match:
        key, value = _setting_key(match.group(1)), _number(match.group(2))
    else:
        return None
    path = SETTINGS.get(key)
    if path is None or value is None:
        return None
    if path == "model.layers":
        return {"model": {"hidden_sizes": [units] * int(value)}}
    if path == "model.hidden_sizes":
        return {"model": {"hidden_sizes": [int(value)]}}
    section, name = path.split(".")
    return {section: {name: value}}


def _arm_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._=+-]+", "-", _plain(text)).strip("-.")[:64]
    return name if name and name[0].isalnum() else f"arm-{name}".strip("-")[:64]


def _entry(row: dict[str, str], units: int) -> tuple[dict | None, str]:
    """(config.yaml arm, "") for a row the recipe can run; (None, why) otherwise; (None, "") to skip it."""
    name, change = _arm_name(row["name"]), _plain(row["change"])
    stated = EXPECTED.search(change)
    expected = row.get("expect") or (stated.group(1) if stated else "")
    change = EXPECTED.sub("", change).strip()
    role = ROLES.get(_plain(row.get("role", "")).lower(), "")
    if role == "baseline":
        return None, ""
    removed = WITHOUT.match(change)
    if NOTHING.fullmatch(change) and role in ("", "control"):
        return {"name": name, "role": "control", "factor": "", "overrides": {}}, ""
    if removed and role in ("", "ablation"):
        return ablation(name, removed.group(1), expected)
    overrides = _settings(change, units)
    if overrides is None:
        return None, f"'{change or '(empty)'}' is not a setting the built-in recipe has"
    if role == "control":  # the control's own settings
        return {"name": name, "role": "control", "factor": "", "overrides": overrides}, ""
    return {"name": name, "role": role or "sweep", "factor": change, "overrides": overrides}, ""


def ablation(name: str, factor: str, expected: str) -> tuple[dict | None, str]:
    """An ablation arm removing `factor`, with the classes the hypothesis expects; (None, why) when the
    built-in recipe has no such component."""
    overrides = next((dict(o) for pattern, o in REMOVABLE if re.search(pattern, factor, re.I)), None)
    if overrides is None:
        return None, f"removing '{factor}' is not something the built-in recipe has"
    arm = {"name": name, "role": "ablation", "factor": factor, "overrides": overrides}
    expect = [c.upper() for c in CLASSES.findall(expected)]
    return ({**arm, "expect": expect} if expect else arm), ""


def _table_arms(page: Page, units: int, notes: list[str]) -> list[dict]:
    found: list[dict] = []
    for header, rows in tables(sections.read_matching(page.body, TABLE_SECTIONS)):
        name_col = _column(header, NAME_HEADER)
        if name_col is None:
            continue
        change_col = next((i for i, h in enumerate(header) if i != name_col and CHANGE_HEADER.search(h)), None)
        setting_cols = [i for i, h in enumerate(header) if i != name_col and _setting_key(_plain(h)) in SETTINGS]
        if change_col is None and not setting_cols:
            names = ", ".join(_plain(r[name_col]) for r in rows[:4] if name_col < len(r))
            notes.append(
                f"a table of the page names arms ({names}{', …' if len(rows) > 4 else ''}) without a change exprun "
                "can read (a Change column, or one column per setting): write them as config.yaml `arms`"
            )
            continue
        role_col, expect_col = _column(header, ROLE_HEADER), _column(header, EXPECT_HEADER)
        for cells in rows:
            cell = [*cells, *[""] * len(header)]
            if change_col is not None:
                change = cell[change_col]
            else:  # one column per setting: | Arm | hidden units | weight decay |
                given = [(_plain(header[i]), _plain(cell[i])) for i in setting_cols]
                change = ", ".join(f"{h} = {v}" for h, v in given if not NOTHING.fullmatch(v))
            row = {"name": cell[name_col], "change": change}
            if role_col is not None:
                row["role"] = cell[role_col]
            if expect_col is not None:
                row["expect"] = _plain(cell[expect_col])
            entry, why = _entry(row, units)
            if entry is not None:
                found.append(entry)
            elif why:
                notes.append(
                    f"arm '{_plain(row['name'])}' of the page's table: {why}; add it to config.yaml `arms` as "
                    f"`- {{name: {_arm_name(row['name'])}, role: ablation|sweep, overrides: {{...}}}}` (and the "
                    "option to the code)"
                )
    return found


def _line_arms(page: Page, units: int, notes: list[str]) -> list[dict]:
    found: list[dict] = []
    for factor, expected in ABLATION_LINE.findall(page.body):
        name = "no-" + re.sub(r"[^a-z0-9]+", "-", factor.lower()).strip("-")[:40]
        entry, why = ablation(name, factor, expected)
        if entry is not None:
            found.append(entry)
        else:
            notes.append(
                f"ablation '{factor}' has no override in the built-in recipe: add its arm's overrides to "
                "config.yaml `arms` (and the option to the code)"
            )
    grid: dict[str, list] = {}
    for key, values in SWEEP_LINE.findall(page.body):
        path = SETTINGS.get(key.strip().lower().replace(" ", "_"))
        parsed = [_number(v.strip()) for v in values.split(",") if v.strip()]
        if path is None or any(v is None for v in parsed):
            notes.append(
                f"sweep over '{key.strip()}' is not a setting of the built-in recipe: add its arms to config.yaml"
            )
            continue
        if path == "model.layers":
            grid["model.hidden_sizes"] = [[units] * int(v) for v in parsed if v is not None]
        else:
            grid[path] = [[v] if path == "model.hidden_sizes" else v for v in parsed]
    return found + (arms.expand_sweep(grid) if grid else [])


def declared(page: Page, units: int, notes: list[str]) -> list[dict]:
    """The page's arms as config.yaml entries, a control first (the table's, else `full` when there are
    ablations); an arm named twice is kept once. `units`: the recipe's hidden width, for "N layers"; `notes`
    receive what the recipe cannot run and what to write in config.yaml instead."""
    found: list[dict] = []
    for arm in [*_table_arms(page, units, notes), *_line_arms(page, units, notes)]:
        if all(a["name"] != arm["name"] for a in found):
            found.append(arm)
    controls = [a for a in found if a["role"] == "control"]
    others = [a for a in found if a["role"] != "control"]
    if len(controls) > 1:
        notes.append(
            f"the page names {len(controls)} control arms ({', '.join(a['name'] for a in controls)}); "
            f"{controls[0]['name']} is the control, the others are left out"
        )
    if not controls and any(a["role"] == "ablation" for a in others):
        controls = [{"name": "full", "role": "control", "factor": "", "overrides": {}}]
    return controls[:1] + others if others else []
