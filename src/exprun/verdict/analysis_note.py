"""Optional: a short LLM-written paragraph under the computed numbers in the page's Analysis.

It is marked as LLM-written and placed below exprun's own lines, which it never replaces; a failing
endpoint leaves the Analysis as computed and says why in the run report.
"""

from __future__ import annotations

from exprun.core import chat
from exprun.core.settings import Settings

SYSTEM = (
    "You are an ML researcher reading the results of one experiment. In at most 5 sentences, say what the "
    "numbers show about the hypothesis, how much the seeds agree, and one concrete next step. Use only the "
    "numbers given; never invent any."
)
MAX_CHARS = 1500


def paragraph(settings: Settings, hypothesis: str, results: str, analysis: str) -> tuple[str, str]:
    """(markdown to append, "" or why nothing was appended)."""
    cfg = settings.analysis_llm
    if not cfg.base_url or not cfg.model:
        return "", ""
    endpoint = chat.Endpoint(cfg.base_url, cfg.model, cfg.api_key_env, cfg.timeout_s)
    message = f"Hypothesis: {hypothesis}\n\n## Results\n{results}\n\n## Computed analysis\n{analysis}"
    try:
        text = " ".join(chat.complete(endpoint, SYSTEM, message).split())[:MAX_CHARS]
    except chat.ChatError as exc:
        return "", f"analysis_llm: {exc}"
    return (
        f"\n\n*LLM-written note ({cfg.model}; not computed by exprun — check it against the numbers above):* {text}",
        "",
    )
