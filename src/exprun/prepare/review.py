"""Optional LLM code review before the gate; it informs the person, it never blocks.

Any OpenAI-compatible chat endpoint works: exprun's `review_llm` setting, else the reviewer the wiki itself is
set up with — LLM_BASE_URL, LLM_MODEL and LLM_API_KEY from the environment, then from the wiki root's .env, the
way the wiki's llm-review server reads them (a variable set in the environment wins over the file). The record
and the gate say which reviewer it was and where its settings came from. The API key goes only into the
request header.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from exprun.core import chat, dotenv
from exprun.core.errors import ConfigError
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


WIKI_VARIABLES = ("LLM_BASE_URL", "LLM_MODEL", "LLM_API_KEY")
SETTING = "exprun's review_llm setting"


@dataclass(frozen=True)
class Reviewer:
    """The review endpoint and where its settings came from (`origin`, for the record and the gate)."""

    base_url: str
    model: str
    origin: str
    api_key_env: str = ""
    timeout_s: float = 120
    api_key: str = field(default="", repr=False)

    @property
    def endpoint(self) -> chat.Endpoint:
        return chat.Endpoint(self.base_url, self.model, self.api_key_env, self.timeout_s, api_key=self.api_key)

    def describe(self) -> dict:
        return {"model": self.model, "base_url": shown_url(self.base_url), "settings_from": self.origin}


def shown_url(url: str) -> str:
    """The endpoint as records and the gate show it: scheme, host, port and path, never a user, password or
    query (a URL from the environment may carry a token there)."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return "(not a URL)"
    if not parts.scheme or not parts.hostname:
        return "(not a URL)" if url else ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return urllib.parse.urlunsplit((parts.scheme, host + (f":{port}" if port else ""), parts.path, "", ""))


def reviewer(cfg: ReviewLlm, root: Path = Path(".")) -> Reviewer:
    """review_llm when it names an endpoint or a model; else the wiki's LLM_* variables (environment, then the
    wiki root's .env). A .env that cannot be read raises ConfigError naming its line."""
    if cfg.base_url or cfg.model:
        key = f"API key from ${cfg.api_key_env} ({'set' if os.environ.get(cfg.api_key_env) else 'not set'})"
        return Reviewer(cfg.base_url, cfg.model, f"{SETTING}; {key}", cfg.api_key_env, cfg.timeout_s)
    values = {name: os.environ[name] for name in WIKI_VARIABLES if os.environ.get(name)}
    origins = {name: "the environment" for name in values}
    env_file = Path(root) / ".env"
    if len(values) < len(WIKI_VARIABLES) and env_file.is_file():
        for name, value in dotenv.read(env_file).items():
            if name in WIKI_VARIABLES and name not in values and value:
                values[name], origins[name] = value, str(env_file)
    return Reviewer(
        values.get("LLM_BASE_URL", ""),
        values.get("LLM_MODEL", ""),
        _origin_text(origins),
        timeout_s=cfg.timeout_s,
        api_key=values.get("LLM_API_KEY", ""),
    )


def _origin_text(origins: dict[str, str]) -> str:
    """ "LLM_BASE_URL, LLM_MODEL from the environment; LLM_API_KEY from /wiki/.env" (names only, never values)."""
    by_place: dict[str, list[str]] = {}
    for name in WIKI_VARIABLES:
        if name in origins:
            by_place.setdefault(origins[name], []).append(name)
    said = [f"{', '.join(names)} from {place}" for place, names in by_place.items()]
    unset = [name for name in WIKI_VARIABLES if name not in origins]
    if unset:
        said.append(f"{', '.join(unset)} not set")
    return "; ".join(said)


def review(slug: str, settings: Settings, root: Path = Path(".")) -> dict:
    """Review the generated code if enabled; the record says 'reviewed' or 'unreviewed', why, and which reviewer
    (model, endpoint, where its settings came from)."""
    paths = Paths(slug, root)
    record: dict = {
        "status": "unreviewed",
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "code_hash": manifest.folder_hash(paths.code_dir),
    }
    if not settings.review:
        record["reason"] = "review disabled (enable with --config review=true or `review: true` in config/config.yaml)"
        atomic_write_json(paths.review, record)
        return record
    try:
        who = reviewer(settings.review_llm, root)
    except ConfigError as exc:
        record["reason"] = f"no reviewer: {exc}"
        atomic_write_json(paths.review, record)
        return record
    record["reviewer"] = who.describe()
    if not who.base_url or not who.model:
        record["reason"] = (
            "review_llm.base_url or review_llm.model not set"
            if who.origin.startswith(SETTING)
            else "no reviewer configured: review_llm is unset and LLM_BASE_URL and LLM_MODEL are not both set in "
            f"the environment or {Path(root) / '.env'} ({who.origin})"
        )
    else:
        try:
            text = chat.complete(who.endpoint, SYSTEM_PROMPT, build_message(slug, root))
        except chat.ChatError as exc:
            record["reason"] = f"review endpoint failed: {exc}"
        else:
            verdict = (
                "issues"
                if "verdict: issues" in text.lower()
                else ("ok" if "verdict: ok" in text.lower() else "see REVIEW.md")
            )
            record.update(status="reviewed", model=who.model, verdict=verdict)
            atomic_write_text(paths.code_dir / "REVIEW.md", f"# Code review ({who.model})\n\n{text.strip()}\n")
    atomic_write_json(paths.review, record)
    return record
