"""Metric names: the page's wording → the name the code reports and the criteria judge.

One vocabulary for the page's `metrics` list and for the metric a criterion sentence names, so the two agree.
Names the built-in recipes compute come first; names from other fields (success rate, MAD, RMSD, Pearson r)
are kept as the page's metric — a criterion on the success rate is never turned into one on accuracy."""

from __future__ import annotations

import re

# Page metric wording -> recipe metric name; the first pattern that matches wins.
RECIPE_PATTERNS = (
    (r"\bf1\b|f-?score", "f1_macro"),
    (r"\bprecision\b", "precision_macro"),
    (r"\brecall\b", "recall_macro"),
    (r"roc|\bauc\b", "roc_auc"),
    (r"log[\s_-]?loss|cross[\s_-]?entropy|\bnll\b", "log_loss"),
    (r"\brmse\b|root[\s_-]mean[\s_-]squared", "rmse"),
    (r"\bmse\b|mean squared", "mse"),
    (r"\bmae\b|mean absolute(?![\s_-]+dev)", "mae"),
    (r"\br2\b|r\^2|r²|coefficient of determination", "r2"),
    (r"\baccuracy\b|\bacc\b|top-?1", "accuracy"),
)
# Metrics of other fields a criterion sentence may name (no built-in recipe computes them).
OTHER_PATTERNS = (
    (r"mean[\s_-]+abs(?:olute|\.)?[\s_-]+dev(?:iation)?|\bmad\b", "mad"),
    (r"\brmsd\b", "rmsd"),
    (r"\bpearson(?:'s)?(?:[\s_-]+(?:r|correlation))?\b", "pearson_r"),
    (r"\bspearman", "spearman_rho"),
    (r"\bsuccess(?:[\s_-]+rates?)?\b|\bpass[\s_-]+rate\b", "success_rate"),
)
RECIPE_NAMES = {name for _, name in RECIPE_PATTERNS}
LOWER_IS_BETTER = {"log_loss", "mse", "rmse", "mae", "mad", "rmsd"}
LOWER_WORDS = re.compile(
    r"loss|error|err\b|perplexity|ppl|wer|cer|mse|mae|rmse|rmsd|\bmad\b|deviation|time|latency", re.I
)


# In a sentence a metric is named by its word; "top-1" alone (blind top-1, top-1 of N candidates) is not accuracy.
SENTENCE_PATTERNS = OTHER_PATTERNS + tuple(
    (r"\baccuracy\b|\bacc\b", name) if name == "accuracy" else (pattern, name) for pattern, name in RECIPE_PATTERNS
)
HEAD = 30  # a page metric is named by its first words: "convergence time … within 0.1 kcal/mol accuracy" is a time


def recipe_metric(text: str) -> str | None:
    """The built-in recipe's name for the page's metric wording (named in its first words), or None."""
    for pattern, name in RECIPE_PATTERNS:
        if re.search(pattern, str(text)[:HEAD], re.I):
            return name
    return None


def nearest_metric(before: str, after: str) -> str | None:
    """The metric a number is said of: one named right after it ("≥ 85 % success"), else the nearest one
    before it ("Pearson r ≥ 0.7 with …"), else one later in its clause."""

    def first(text: str, key) -> str | None:
        found = [(key(m), name) for pattern, name in SENTENCE_PATTERNS for m in re.finditer(pattern, text, re.I)]
        return min(found)[1] if found else None

    stripped = after.lstrip()
    return (
        (
            first(stripped[:12], lambda m: m.start() if m.start() == 0 else 99)
            if re.match("|".join(p for p, _ in SENTENCE_PATTERNS), stripped, re.I)
            else None
        )
        or first(before, lambda m: len(before) - m.end())
        or first(after, lambda m: m.start())
    )


def normalised(text: str, limit: int = 40) -> str:
    """The page's own metric as a name the code can report: a known name, else its words in snake_case."""
    head = str(text)[:HEAD]
    known = next((name for pattern, name in SENTENCE_PATTERNS if re.search(pattern, head, re.I)), None)
    if known:
        return known
    words = re.sub(r"[^a-z0-9]+", "_", re.split(r"[(=]", str(text))[0].lower()).strip("_")
    return words[:limit].rstrip("_") or "metric"


def higher_is_better(name: str) -> bool:
    return not (name in LOWER_IS_BETTER or LOWER_WORDS.search(name))
