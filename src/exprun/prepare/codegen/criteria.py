"""Success criteria and baseline, as the page states them.

Pages written by the experiment-design step rarely carry a machine-readable `success_criteria` field;
they say it in prose ("beats the baseline by at least 0.5 points", "≥ 2 % relative", "reaches ≥ 85 %
success", "MAD < 5 %", "lower is better", "statistically significant"). This module reads every sentence
that states a criterion — in the hypothesis and in the sections that state them, `## Analysis` of a page
not yet run included (a planned page's Analysis often holds the decision rule) — and says for each what it
became: a Δ or relative Δ against the baseline, or a threshold on the metric the sentence names (the page's
own metric — `success_rate`, `mad` — never accuracy in its place). A sentence it cannot turn into numbers is
kept as unread, so the gate shows it as a `!! CHECK` line rather than dropping it.

How the prose is read (docs/configuration.md, "Baseline and criteria"):
- a metric is named by a word exprun knows (metric_names) or by the words of one of the page's `metrics:`;
- "by at least X points/pp/%" or "≥ X over the baseline": Δ ≥ X on the metric named, else the primary
  (points and % on a 0–1 metric are hundredths) — but not when the clause speaks of an error, a loss or a
  time the page does not list: "reduces test error by 10 %" on an accuracy page is unread, never "accuracy
  must fall";
- "X % relative", "relative improvement of X %": relative Δ;
- "≥ X", "at least X", "above X" on a named metric: a threshold the method's mean must reach; "< X",
  "≤ X", "at most X", "below X": a threshold it must stay under (lower is better); a percentage is a
  fraction (85 % → 0.85); a percentage naming no metric in a sentence about success is the success rate;
- ratios ("2x smaller"), tolerances ("within 0.05 of"), ranges and thresholds naming no metric are unread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from exprun.prepare.codegen import metric_names
from exprun.verdict.arm_criteria import pct
from exprun.wiki import sections
from exprun.wiki.pages import Page

PROSE_SECTIONS = r"procedure|success|criteri|expected|evaluation|decision|hypothes"
PLANNED_SECTIONS = r"analysis"  # read while the page has no results: then it states the plan, later the findings
FRACTION_METRICS = {"accuracy", "f1_macro", "precision_macro", "recall_macro", "roc_auc", "r2", "success_rate"}
NUMBER = r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+"
UNIT = r"(?P<unit>%|pp\b|points?\b|percentage[\s-]points?\b|x\b|×|times\b|-?fold\b)?"
COMPARE = re.compile(
    r"(?P<op>≥|>=|=>|≤|<=|=<|(?<![-=<])<(?![-=])|(?<![-=])>(?!=)|\bat\s+least\b|\bat\s+most\b|"
    r"\bno\s+(?:less|fewer)\s+than\b|\bno\s+more\s+than\b|\bbelow\b|\babove\b|\bexceeds?\b|\bwithin\b)"
    rf"\s*~?\s*\+?(?P<num>{NUMBER})(?P<power>[⁰¹²³⁴⁵⁶⁷⁸⁹]+)?(?P<of>\s*(?:/|of)\s*[0-9]+)?(?P<range>\s*[-–]\s*[0-9])?\s*{UNIT}",
    re.I,
)
BY = re.compile(
    rf"\bby\s+(?:at\s+least\s+|≥\s*|>=\s*)?\+?(?P<num>{NUMBER})\s*(?P<unit>%|pp\b|points?\b|percentage[\s-]points?\b)?"
    r"(?!\s*(?:x|×|times|fold)\b)(?![0-9]|\.[0-9])",
    re.I,
)
RELATIVE_OF = re.compile(
    r"relative\s+(?:improvement|gain|reduction|increase|decrease)\s+of\s+(?:at\s+least\s+|≥\s*|>=\s*)?"
    rf"(?P<num>{NUMBER})\s*(?P<unit>%)",
    re.I,
)
RELATIVE_AFTER = re.compile(r"^\s*relative\b", re.I)
RELATIVE_BEFORE = re.compile(r"relative\s+(?:improvement|gain|reduction|increase|decrease)\s+of\s*$", re.I)
AGAINST_BASELINE = re.compile(r"^[^,;:()]*?\b(?:over|than|above|vs\.?|versus)\s+(?:the\s+)?baseline", re.I)
LOWER = re.compile(r"\blower\s+is\s+better\b|\bsmaller\s+is\s+better\b", re.I)
SIGNIFICANT = re.compile(r"statistically\s+significant|\bp\s*[<≤]\s*(0?\.[0-9]+)", re.I)
BEATS = re.compile(r"\b(?:beats?|outperforms?|better\s+than|improves?\s+(?:on|over))\b", re.I)
STATES = re.compile(
    r"criteri|succe\w*\s+(?:if|when|means)\b|\bpass(?:es)?\s+if\b|\bfails?\s+if\b|outperform|\bbeats?\b|"
    r"better\s+than|significan|relative\s+(?:improvement|gain|reduction)|"
    r"\b(?:fewer|less|faster|slower|more\s+efficiently|cheaper)\b[^,;]*?\bthan\b",
    re.I,
)
SUCCESS_WORDS = re.compile(r"\bsuccess|\btargets?\b|\bpass", re.I)
DIFFERENCE = re.compile(
    r"\b(?:lifts?|gains?|drops?|deltas?|differences?|improvements?|reductions?|reduces?|decreases?)\b|Δ(?!\w)", re.I
)
DOWN = re.compile(r"\b(?:drops?|reductions?|reduces?|decreases?|lowers?)\b", re.I)
EITHER_WAY = re.compile(r"either\s+direction|\bdiffer(?:s|ent)?\b", re.I)
TIME_UNIT = re.compile(r"\s*([munpf]?s|sec(?:onds?)?|min(?:utes?)?|h(?:ours?)?|hrs?|days?)\b")
COUNT = re.compile(r"^\s*(?:random\s+)?(?:seeds?|runs?)\b", re.I)
CLAUSE_END = re.compile(r"[,;:()]|\band\b|\bor\b|∧", re.I)
LINEAR_BASELINE = re.compile(
    r"logistic|linear\s+(?:regression|model|classifier|probe)|\bridge\b|\blasso\b|least[\s-]squares", re.I
)
ABBREVIATION = re.compile(r"(?:\b[A-Z][a-z]{0,3}|\bal|\be\.g|\bi\.e|\bvs|\bcf)\.$")
PROSE_SOURCE = "page prose; confirm at the gate"


@dataclass
class Reading:
    """One sentence that states a criterion: where it stands, what it became, and what of it was not read."""

    where: str
    sentence: str
    became: list[str] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"where": self.where, "sentence": self.sentence, "became": self.became, "unread": self.unread}


@dataclass
class Readout:
    """The criteria for config.yaml, every criterion sentence with its reading, and the notes for CONTEXT.md."""

    criteria: list[dict]
    readings: list[Reading]
    notes: list[str]


def _sentences(text: str) -> list[str]:
    """Sentences, a list item or a paragraph never run together, a hard-wrapped line joined to the next."""
    blocks = re.split(r"\n\s*\n|\n(?=\s*(?:[-*+]|[0-9]+\.)\s)", text)
    parts = [
        " ".join(p.split())
        for block in blocks
        for p in re.split(r"(?<=[.;!?])\s+(?=[A-Z(*\-])", " ".join(block.split()))
        if p.strip()
    ]
    merged: list[str] = []
    for part in parts:  # "Adv. Sci. 2025" and "et al. show" are not sentence ends
        if merged and ABBREVIATION.search(merged[-1]):
            merged[-1] += " " + part
        else:
            merged.append(part)
    return merged


def prose(page: Page) -> list[tuple[str, str]]:
    """(where, sentence) pairs from the hypothesis and the sections that state criteria (`## Analysis` too
    while the page has not been run)."""
    wanted = PROSE_SECTIONS if str(page.get("status") or "") == "completed" else f"{PROSE_SECTIONS}|{PLANNED_SECTIONS}"
    found = [("hypothesis", s) for s in _sentences(str(page.get("hypothesis") or ""))]
    for title in dict.fromkeys(sections.section_titles(page.body)):  # a title written twice is read once
        if re.search(wanted, title, re.I):
            found += [(f"## {title}", s) for s in _sentences(sections.read_section(page.body, title) or "")]
    return found


def _clause(sentence: str, start: int, end: int) -> tuple[str, str]:
    """The words of the clause around a number, before and after it (a metric is named there)."""
    before = CLAUSE_END.split(sentence[:start])[-1]
    after = CLAUSE_END.split(sentence[end:])[0]
    return before, after


def _fraction(value: float, unit: str, metric: str) -> tuple[float, str]:
    if unit and unit not in ("x", "×") and metric in FRACTION_METRICS:
        return value / 100, f" ({value:g} {unit} read as {value / 100:g}, a 0–1 metric)"
    if unit == "%":
        return value / 100, f" ({value:g} % read as the fraction {value / 100:g}: the code must report it so)"
    return value, ""


@dataclass
class _Found:
    """What the sentences said so far, merged into criteria at the end."""

    primary: str
    higher: bool
    own: tuple[tuple[str, str], ...] = ()  # the page's own metrics, named in a sentence by their words
    deltas: dict[str, dict] = field(default_factory=dict)
    thresholds: list[dict] = field(default_factory=list)

    def delta(self, metric: str, down: bool = False) -> dict:
        criterion = self.deltas.setdefault(metric, {"metric": metric, "vs": "baseline", "min_delta": 0.0})
        if down:  # "reduces AUC by ≥ 0.03": the method's metric must fall below the baseline's
            criterion["direction"] = "lower"
        return criterion


def _read_number(sentence: str, match: re.Match, by: bool, found: _Found) -> tuple[str, str]:
    """One number a sentence compares with: (what it became, "") or ("", what could not be read)."""
    value, unit = float(match.group("num")), (match.group("unit") or "").lower()
    op = "by" if by else " ".join(match.group("op").lower().split())
    before, after = _clause(sentence, match.start(), match.end())
    said = match.group(0).strip()
    if unit in ("x", "×", "times") or unit.endswith("fold"):
        return "", f"“{said}” is a ratio, not a difference or a threshold"
    if op == "within":
        return "", f"“{said}” is a tolerance around another value"
    if match.groupdict().get("range"):
        return "", f"“{said}…” is a range"
    if match.groupdict().get("power") or match.groupdict().get("of"):
        return "", f"“{said}” is a count, not a metric exprun knows"
    if COUNT.search(sentence[match.end() :]):
        return f"{said} seeds: the seed count (config.yaml seeds), not an outcome", ""
    if EITHER_WAY.search(sentence[: match.start()]):
        return "", f"“{said}” is a difference from another value in either direction"
    named = metric_names.nearest_metric(before, after, found.own)
    time = TIME_UNIT.match(sentence[match.end() :])
    if named and time and not metric_names.is_time(named):  # "stable DeltaF in < 50 ns" bounds a time, not ΔF
        return "", f"“{said} {time.group(1)}” is a time, not {named}"
    relative = (
        match.re is RELATIVE_OF
        or RELATIVE_AFTER.search(sentence[match.end() :])
        or RELATIVE_BEFORE.search(sentence[: match.start()])
    )
    at_least = op in ("by", "≥", ">=", "=>", "at least", "no less than", ">", "above", "exceeds", "exceed")
    difference = (
        by
        or relative
        or DIFFERENCE.search(before)
        or DIFFERENCE.match(after.lstrip())  # "≥ 0.05 lift over …"
        or AGAINST_BASELINE.search(sentence[match.end() :])
    )
    if difference and not at_least:
        return "", f"“{said}” bounds a difference from above (when the claim fails), not a criterion to reach"
    error = None if named or not (relative or difference) else metric_names.ERROR_LIKE.search(f"{before} {after}")
    if error:  # "reduces test error by 10 %" on an accuracy page: never "accuracy must fall"
        return "", f"“{said}” is said of “{error.group(0)}”, not a metric the page lists, so not of {found.primary}"
    metric = named or found.primary
    down = bool(DOWN.search(before) or (match.re is RELATIVE_OF and DOWN.search(match.group(0))))
    if relative:
        criterion = found.delta(metric, down)
        if "min_relative" in criterion:
            return f"relative Δ ≥ {pct(criterion['min_relative'])} on {metric} (read before)", ""
        criterion["min_relative"] = value / 100
        return f"relative Δ {'≤ −' if down else '≥ '}{pct(value / 100)} on {metric}", ""
    if difference:
        points = unit in ("%", "pp", "point", "points") or "percentage" in unit
        number, how = _fraction(value, unit, metric) if points else (value, "")
        criterion = found.delta(metric, down)
        if criterion.get("min_delta"):
            return f"Δ ≥ {criterion['min_delta']:g} on {metric} (read before)", ""
        criterion["min_delta"] = number
        return f"Δ {'≤ −' if down else '≥ '}{number:g} on {metric}{' (a reduction)' if down else ''}{how}", ""
    lead = (
        sentence.split(":")[0]
        if ":" in sentence[: match.start()] and not CLAUSE_END.search(sentence[sentence.index(":") + 1 : match.start()])
        else ""
    )
    metric = named or ("success_rate" if unit == "%" and SUCCESS_WORDS.search(f"{before} {after} {lead}") else "")
    if not metric:
        return "", f"“{said}” names no metric exprun knows"
    number, how = _fraction(value, unit, metric)
    threshold = {"metric": metric, "threshold": number, "direction": "higher" if at_least else "lower"}
    sign = "≥" if at_least else "≤"
    if threshold in found.thresholds:
        return f"threshold {metric} {sign} {number:g} (read before)", ""
    found.thresholds.append(threshold)
    return f"threshold {metric} {sign} {number:g}{how}", ""


def _read(where: str, sentence: str, found: _Found, criteria_so_far: dict) -> Reading:
    reading = Reading(where, sentence)
    bys = list(BY.finditer(sentence)) + list(RELATIVE_OF.finditer(sentence))  # both say "at least" by themselves
    covered = [(m.start(), m.end()) for m in bys]
    numbers = [(m, True) for m in bys] + [
        (m, False) for m in COMPARE.finditer(sentence) if not any(s <= m.start() < e for s, e in covered)
    ]
    for match, by in sorted(numbers, key=lambda item: item[0].start()):
        became, unread = _read_number(sentence, match, by, found)
        reading.became += [became] if became else []
        reading.unread += [unread] if unread else []
    if LOWER.search(sentence) and "direction" not in criteria_so_far:
        criteria_so_far["direction"] = "lower"
        reading.became.append(f"lower is better on {found.primary}")
    significant = SIGNIFICANT.search(sentence)
    if significant and "significance" not in criteria_so_far:
        criteria_so_far["significance"] = float(significant.group(1) or 0.05)
        reading.became.append(f"significant at p < {criteria_so_far['significance']:g} (paired over seeds)")
    if not reading.became and not reading.unread and BEATS.search(sentence):
        found.delta(found.primary)
        reading.became.append(f"{found.primary} better than the baseline (Δ {'>' if found.higher else '<'} 0)")
    if not reading.became and not reading.unread and STATES.search(sentence):
        reading.unread.append("states a criterion with no number or metric exprun can judge")
    return reading


def read(page: Page, primary: str, higher_is_better: bool = True) -> Readout:
    """Criteria for config.yaml, with every criterion sentence and what it became (or that it was not read)."""
    given = page.get("success_criteria")
    if isinstance(given, list) and given:
        return Readout([dict(item) for item in given if isinstance(item, dict) and "metric" in item], [], [])
    listed = page.get("metrics")
    own = metric_names.own_patterns(listed if isinstance(listed, list) else [listed] if listed else [])
    found, extra = _Found(primary, higher_is_better, own=own), dict[str, object]()
    readings = [r for r in (_read(w, s, found, extra) for w, s in prose(page)) if r.became or r.unread]
    if "significance" in extra or (not found.thresholds and not found.deltas):
        found.delta(primary)  # a page stating only thresholds is judged on them, not on an extra Δ > 0
    deltas = [{**c, **extra} if c["metric"] == primary else c for c in found.deltas.values()]
    criteria = [_direction_named(c) for c in deltas] + found.thresholds
    if any(r.became for r in readings):
        criteria = [{**c, "source": PROSE_SOURCE} for c in criteria]
        notes = []
    else:
        notes = [
            f"the page states no success criterion exprun can read: the default is that {primary} "
            f"{'rises above' if higher_is_better else 'falls below'} the baseline "
            "(edit success_criteria in config.yaml)"
        ]
    return Readout(criteria, readings, notes)


def _direction_named(criterion: dict) -> dict:
    """A Δ on a metric no recipe computes carries its better side: the verdict knows only the recipe's
    directions, and a convergence time or an error must fall, not rise."""
    metric = criterion["metric"]
    if "direction" in criterion or metric in metric_names.RECIPE_NAMES or metric_names.higher_is_better(metric):
        return criterion
    return {**criterion, "direction": "lower"}


def from_page(page: Page, primary: str, higher_is_better: bool = True) -> tuple[list[dict], list[str]]:
    """Criteria for config.yaml and the notes for CONTEXT.md (every sentence read, and what it became)."""
    found = read(page, primary, higher_is_better)
    return found.criteria, found.notes + reading_notes(found.readings)


def reading_notes(readings: list[Reading]) -> list[str]:
    """The readings for CONTEXT.md: what was read from where, then what was not."""
    read_lines = describe([r for r in readings if r.became])
    unread_lines = describe([r for r in readings if not r.became])
    notes = (
        [
            "success criteria read from the page's prose — confirm or edit success_criteria in config.yaml "
            "before approving:"
        ]
        + [f"  {line}" for line in read_lines]
        if read_lines
        else []
    )
    if unread_lines:
        notes += [
            "criteria the page states that exprun could not turn into numbers (write them into success_criteria "
            "in config.yaml if they should decide the outcome):"
        ] + [f"  {line}" for line in unread_lines]
    return notes


def _quote(sentence: str, limit: int = 240) -> str:
    return f"“{sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + '…'}”"


def describe(readings: list[Reading] | list[dict]) -> list[str]:
    """One line per criterion sentence: where, the quote, and what it became or that it was not read."""
    lines = []
    for r in readings:
        item = r.as_dict() if isinstance(r, Reading) else r
        said = "; ".join(item.get("became") or []) or "NOT READ"
        unread = "; not read: " + "; ".join(item["unread"]) if item.get("unread") and item.get("became") else ""
        why = f" ({'; '.join(item['unread'])})" if item.get("unread") and not item.get("became") else ""
        lines.append(f"{item.get('where')}: {_quote(str(item.get('sentence')))} → {said}{why}{unread}")
    return lines


BASELINE_LINE = re.compile(r"^\s*(?:[-*]\s*)?(?:\*\*)?baseline(?:\*\*)?\s*:\s*(?:\*\*)?\s*(\S.*)$", re.I | re.M)
NO_BASELINE = re.compile(r"^(?:none|n/?a|no baseline)\b", re.I)


def page_baseline(page: Page) -> tuple[str, str]:
    """(the baseline as the page names it, where: `baseline`, `setup.baseline`, the `## Baseline` section or a
    `Baseline:` line of the prose); ("", "") when the page names none. Pages put it in any of these places; a
    field wins over prose because a person wrote it to be read by a program."""
    for name in ("baseline", "setup.baseline"):
        text = " ".join(str(page.get(name) or "").split())
        if text:
            return text, name
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
