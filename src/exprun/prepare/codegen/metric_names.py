"""Metric names: the page's wording → the name the code reports and the criteria judge.

One vocabulary for the page's `metrics` list and for the metric a criterion sentence names, so the two agree.
Names the built-in recipes compute come first; names from other fields (success rate, MAD, RMSD, Pearson r,
WER, perplexity, BLEU) are kept as the page's metric — a criterion on the success rate is never turned into one
on accuracy — and so are the page's own metrics (its `metrics:` list), named in a sentence by their words."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Page metric wording -> recipe metric name; the first pattern that matches wins.
RECIPE_PATTERNS = (
    (r"\bf1\b|f-?score", "f1_macro"),
    (r"\bprecision\b(?![\s_-]*recall)", "precision_macro"),
    (r"(?<!precision[\s_-])\brecall\b", "recall_macro"),
    # never inside a word ("reciprocal"); a ranking, top-K or precision-recall AUC is not the ROC's
    (r"\b(?:au)?roc\b|roc[\s_-]?auc|(?<!ranking )(?<!ranking[-_])(?<!\bpr[\s_-])(?<!recall )\bauc\b", "roc_auc"),
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
    (r"\bwer\b|\bword[\s_-]+error[\s_-]+rates?\b", "wer"),
    (r"\bcer\b|\bchar(?:acter)?[\s_-]+error[\s_-]+rates?\b", "cer"),
    (r"\berror[\s_-]+rates?\b", "error_rate"),
    (r"\bperplexity\b|\bppl\b", "perplexity"),
    (r"\bbleu\b", "bleu"),
)
RECIPE_NAMES = {name for _, name in RECIPE_PATTERNS}
# Words that make a metric one to minimise, matched as whole words of its name ("val_loss", "WallTime",
# "word error rate"), never inside another word ("answer", "power", "applied").
TIME_WORDS = frozenset("time runtime walltime latency duration".split())
LOWER_WORDS = TIME_WORDS | frozenset(
    "loss losses error errors err nll perplexity ppl wer cer mse mae rmse rmsd mad deviation".split()
)  # not "energy" or "barrier": a barrier height or a free energy is matched to a reference, not minimised
# A clause naming one of these but no metric the page or exprun knows speaks of some error measure:
# never read as the page's primary metric, whose better side may be the other way.
ERROR_LIKE = re.compile(r"\b(?:" + "|".join(sorted(LOWER_WORDS)) + r")\b", re.I)


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


def own_patterns(page_metrics: Iterable[object]) -> tuple[tuple[str, str], ...]:
    """(pattern, name) for each of the page's own metrics: its words ("error rate", "FES barrier height", the
    part before a unit in parentheses) or its snake_case name names it in a sentence, as the name the criteria
    judge (`normalised`, the same name the default criterion uses)."""
    found = []
    for raw in page_metrics:
        words = re.split(r"[(=]", str(raw))[0].split()
        if not words:
            continue
        name = normalised(str(raw))
        spelled = r"[\s_-]+".join(re.escape(w) for part in words for w in re.split(r"[_-]+", part) if w)
        found.append((rf"(?<!\w)(?:{spelled}|{re.escape(name)})(?!\w)", name))
    return tuple(found)


def nearest_metric(before: str, after: str, own: tuple[tuple[str, str], ...] = ()) -> str | None:
    """The metric a number is said of: one named right after it ("≥ 85 % success"), else the nearest one
    before it ("Pearson r ≥ 0.7 with …"), else one later in its clause. `own`: the page's own metrics
    (`own_patterns`), named as well as the ones exprun knows; of two names ending at the same place the longer
    wins ("word error rate" is the WER, not an error rate)."""
    patterns = own + SENTENCE_PATTERNS

    def first(text: str, key) -> str | None:
        found = [
            (key(m), -len(m.group(0)), name) for pattern, name in patterns for m in re.finditer(pattern, text, re.I)
        ]
        return min(found)[2] if found else None

    stripped = after.lstrip()
    return (
        (first(stripped, lambda m: m.start()) if re.match("|".join(p for p, _ in patterns), stripped, re.I) else None)
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


def _words(name: str) -> set[str]:
    """A metric name's words, split at spaces, underscores, hyphens and camelCase ("val_loss", "WallTime")."""
    return {w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+", str(name))}


def higher_is_better(name: str) -> bool:
    """False for a metric to minimise: one a word of which is in LOWER_WORDS ("val_loss", "word error rate"),
    never a word matched inside another ("answer", "power")."""
    return not _words(name) & LOWER_WORDS


def is_time(name: str) -> bool:
    """The metric is a duration ("convergence_time", "latency")."""
    return bool(_words(name) & TIME_WORDS)
