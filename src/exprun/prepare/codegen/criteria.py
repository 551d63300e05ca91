"""Success criteria and baseline, as the page states them.

Pages written by the experiment-design step rarely carry a machine-readable `success_criteria` field;
they say it in prose ("beats the baseline by at least 0.5 points", "≥ 2 % relative", "lower is better",
"statistically significant"). This module turns such sentences into criteria for config.yaml, quoting
each sentence, so the person confirms them at the gate; what it cannot turn into numbers is listed too.
"""

from __future__ import annotations

import re

from exprun.wiki import sections
from exprun.wiki.pages import Page

PROSE_SECTIONS = r"procedure|success|criteri|expected|evaluation|decision|hypothes"
FRACTION_METRICS = {"accuracy", "f1_macro", "precision_macro", "recall_macro", "roc_auc", "r2"}
NUMBER = r"([0-9]+(?:\.[0-9]+)?|\.[0-9]+)"
POINTS = r"(points?|pp|percentage[\s-]points?|%)?(?!\s*(?:x|×|times|fold)\b)(?![0-9]|\.[0-9])"
ABSOLUTE = re.compile(rf"(?:by\s+)?(?:at\s+least|≥|>=|no\s+less\s+than)\s*\+?{NUMBER}\s*{POINTS}", re.I)
BY = re.compile(rf"\bby\s+(?:at\s+least\s+)?\+?{NUMBER}\s*{POINTS}(?!\s*relative)", re.I)
RELATIVE = re.compile(
    rf"{NUMBER}\s*%\s*relative|relative\s+(?:improvement|gain|reduction)\s+of\s+(?:at\s+least\s+|≥\s*)?{NUMBER}\s*%",
    re.I,
)
LOWER = re.compile(r"\blower\s+is\s+better\b|\bsmaller\s+is\s+better\b", re.I)
SIGNIFICANT = re.compile(r"statistically\s+significant|\bp\s*[<≤]\s*(0?\.[0-9]+)", re.I)
BEATS = re.compile(r"\b(?:beats?|outperforms?|better\s+than|improves?\s+(?:on|over))\b", re.I)
CUES = re.compile(
    r"success|criteri|at least|≥|>=|outperform|beats?\b|improv|significan|within\s+[0-9.]|better than", re.I
)
LINEAR_BASELINE = re.compile(
    r"logistic|linear\s+(?:regression|model|classifier|probe)|\bridge\b|\blasso\b|least[\s-]squares", re.I
)


ABBREVIATION = re.compile(r"(?:\b[A-Z][a-z]{0,3}|\bal|\be\.g|\bi\.e|\bvs|\bcf)\.$")


def _sentences(text: str) -> list[str]:
    parts = [" ".join(p.split()) for p in re.split(r"(?<=[.;!?])\s+(?=[A-Z(*\-])|\n+", text) if p.strip()]
    merged: list[str] = []
    for part in parts:  # "Adv. Sci. 2025" and "et al. show" are not sentence ends
        if merged and ABBREVIATION.search(merged[-1]):
            merged[-1] += " " + part
        else:
            merged.append(part)
    return merged


def prose(page: Page) -> list[tuple[str, str]]:
    """(where, sentence) pairs from the hypothesis and the sections that state criteria."""
    found = [("hypothesis", s) for s in _sentences(str(page.get("hypothesis") or ""))]
    for title in sections.section_titles(page.body):
        if re.search(PROSE_SECTIONS, title, re.I):
            found += [(f"## {title}", s) for s in _sentences(sections.read_section(page.body, title) or "")]
    return found


def _absolute(sentence: str, metric: str) -> tuple[float | None, str]:
    match = BY.search(sentence) or ABSOLUTE.search(sentence)
    if not match or RELATIVE.search(sentence[match.start() : match.end() + 12]):
        return None, ""
    value, unit = float(match.group(1)), (match.group(2) or "").lower()
    if unit and metric in FRACTION_METRICS:
        return value / 100, f"{value:g} {unit} read as Δ ≥ {value / 100:g} on {metric} (a 0–1 metric)"
    return value, f"Δ ≥ {value:g} on {metric}"


def _quote(sentence: str, limit: int = 240) -> str:
    return f"“{sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + '…'}”"


def from_page(page: Page, primary: str, higher_is_better: bool = True) -> tuple[list[dict], list[str]]:
    """Criteria for config.yaml and the notes the gate shows (what was read from where, what was not)."""
    given = page.get("success_criteria")
    if isinstance(given, list) and given:
        return [dict(item) for item in given if isinstance(item, dict) and "metric" in item], []
    criterion: dict = {"metric": primary, "vs": "baseline", "min_delta": 0.0}
    read, unread, have_delta = [], [], False
    for where, sentence in prose(page):
        said = []
        value, how = (None, "") if have_delta else _absolute(sentence, primary)
        if value is not None:
            criterion["min_delta"], have_delta = value, True
            said.append(how)
        relative = RELATIVE.search(sentence)
        if relative and "min_relative" not in criterion:
            criterion["min_relative"] = float(relative.group(1) or relative.group(2)) / 100
            said.append(f"relative Δ ≥ {criterion['min_relative']:.0%}")
        if LOWER.search(sentence) and "direction" not in criterion:
            criterion["direction"] = "lower"
            said.append("lower is better")
        significant = SIGNIFICANT.search(sentence)
        if significant and "significance" not in criterion:
            criterion["significance"] = float(significant.group(1) or 0.05)
            said.append(f"significant at p < {criterion['significance']:g} (paired over seeds)")
        if not said and BEATS.search(sentence) and not CUES.search(BEATS.sub("", sentence)):
            said.append(f"{primary} better than the baseline (Δ {'>' if higher_is_better else '<'} 0)")
        if said:
            read.append(f"{where}: {_quote(sentence)} → {', '.join(said)}")
        elif CUES.search(sentence):
            unread.append(f"{where}: {_quote(sentence)}")
    notes = []
    if read:
        criterion["source"] = "page prose; confirm at the gate"
        notes += [
            "success criteria read from the page's prose — confirm or edit success_criteria in config.yaml "
            "before approving:"
        ] + [f"  {line}" for line in read]
    else:
        notes.append(
            f"the page states no success criterion exprun can read: the default is that {primary} "
            f"{'rises above' if higher_is_better else 'falls below'} the baseline "
            "(edit success_criteria in config.yaml)"
        )
    if unread:
        notes += [
            "criteria the page states that exprun could not turn into numbers (write them into "
            "success_criteria in config.yaml if they should decide the outcome):"
        ] + [f"  {line}" for line in unread[:8]]
    return [criterion], notes


BASELINE_LINE = re.compile(r"^\s*(?:[-*]\s*)?(?:\*\*)?baseline(?:\*\*)?\s*:\s*(?:\*\*)?\s*(\S.*)$", re.I | re.M)
NO_BASELINE = re.compile(r"^(?:none|n/?a|no baseline)\b", re.I)


def page_baseline(page: Page) -> tuple[str, str]:
    """(the baseline as the page names it, where: `baseline`, `setup.baseline`, the `## Baseline` section or a
    `Baseline:` line of the prose); ("", "") when the page names none. Pages put it in any of these places; a
    field wins over prose because a person wrote it to be read by a program."""
    for field in ("baseline", "setup.baseline"):
        text = " ".join(str(page.get(field) or "").split())
        if text:
            return text, field
    section = sections.read_section(page.body, "Baseline")
    if section and section.strip():
        return " ".join(section.split())[:300], "the page's Baseline section"
    line = BASELINE_LINE.search(page.body)
    if line:
        return " ".join(line.group(1).split())[:300], "a `Baseline:` line of the page"
    return "", ""


def names_none(text: str) -> bool:
    """The page says in words that there is no baseline (`baseline: "None — this stage measures …"`)."""
    return bool(NO_BASELINE.match(text))


def baseline(page: Page, framework: str, task: str) -> tuple[dict, list[str]]:
    """The page's baseline for config.yaml: what the built-in recipe can run, else marked not implemented."""
    text = page_baseline(page)[0]
    if not text or names_none(text):
        return {"name": "none", "description": ""}, ["the page names no baseline: the verdict compares nothing"]
    if framework in ("sklearn", "pytorch") and LINEAR_BASELINE.search(text):
        return {
            "name": "logistic_regression" if task == "classification" else "linear_regression",
            "description": text,
        }, []
    return {"name": "not_implemented", "description": text}, [
        f"the page's baseline “{text[:200]}” is not implemented by the built-in recipe: implement it in model.py and "
        "write baseline_metrics, or put its numbers in config.yaml as `baseline_results: {source: <paper or page>, "
        "metrics: {<metric>: <value>}}` — without either the verdict has no baseline"
    ]
