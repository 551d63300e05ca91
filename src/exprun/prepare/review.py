"""Optional LLM code review before the gate; it informs the person, it never blocks.

Any OpenAI-compatible chat endpoint works. The API key is read from the
environment variable the config names and goes only into the request header.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from exprun.core import chat
from exprun.core.files import atomic_write_json, atomic_write_text
from exprun.core.paths import Paths
from exprun.core.settings import ReviewLlm, Settings
from exprun.prepare.codegen import manifest
from exprun.wiki import lifecycle

SYSTEM_PROMPT = (
    "You are a senior ML engineer reviewing experiment code. Focus on: correctness of the "
    "training loop, proper evaluation protocol, fair baseline comparison, reproducibility "
    "(seeds, determinism), proper metric computation, and common pitfalls (data leakage, "
    "wrong split, gradient accumulation bugs). Start with a one-line verdict: "
    "'VERDICT: ok' or 'VERDICT: issues', then list concrete problems with file and line."
)
MAX_CODE_CHARS = 60_000


def build_message(slug: str, root: Path) -> str:
    page = lifecycle.find_experiment(slug, root)
    folder = Paths(slug, root).code_dir
    parts = [
        f"## Experiment\n{page.get('title')}\n\nHypothesis: {str(page.get('hypothesis') or '').strip()}",
        "## Code",
    ]
    for path in manifest.code_files(folder):
        parts.append(f"### {path.relative_to(folder)}\n```\n{path.read_text(encoding='utf-8', errors='replace')}\n```")
    parts.append(
        "## Expected Behavior\n"
        + json.dumps(page.get("setup") or {}, ensure_ascii=False, default=str)
        + f"\nMetrics: {page.get('metrics')}\nBaseline: {page.get('baseline')}"
    )
    parts.append("Review for correctness and potential issues.")
    return "\n\n".join(parts)[:MAX_CODE_CHARS]


def endpoint(settings: ReviewLlm) -> chat.Endpoint:
    return chat.Endpoint(settings.base_url, settings.model, settings.api_key_env, settings.timeout_s)


def review(slug: str, settings: Settings, root: Path = Path(".")) -> dict:
    """Review the generated code if enabled; the record says 'reviewed' or 'unreviewed' and why."""
    paths = Paths(slug, root)
    cfg = settings.review_llm
    record = {
        "status": "unreviewed",
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "code_hash": manifest.folder_hash(paths.code_dir),
    }
    if not settings.review:
        record["reason"] = "review disabled (enable with --config review=true or `review: true` in config/config.yaml)"
    elif not cfg.base_url or not cfg.model:
        record["reason"] = "review.base_url or review.model not set"
    else:
        try:
            text = chat.complete(endpoint(cfg), SYSTEM_PROMPT, build_message(slug, root))
        except chat.ChatError as exc:
            record["reason"] = f"review endpoint failed: {exc}"
        else:
            verdict = (
                "issues"
                if "verdict: issues" in text.lower()
                else ("ok" if "verdict: ok" in text.lower() else "see REVIEW.md")
            )
            record.update(status="reviewed", model=cfg.model, verdict=verdict)
            atomic_write_text(paths.code_dir / "REVIEW.md", f"# Code review ({cfg.model})\n\n{text.strip()}\n")
    atomic_write_json(paths.review, record)
    return record
