"""The optional code review against a real OpenAI-compatible HTTP endpoint on 127.0.0.1.

The review informs the person and never blocks: every failure of the endpoint ends as
status "unreviewed" with a reason. The API key goes into the request header and nowhere else.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from exprun.core import config
from exprun.core.paths import Paths
from exprun.prepare import review
from exprun.prepare.codegen import manifest
from exprun.prepare.codegen.generate import generate
from fake_llm import chat_reply

EXAMPLE_WIKI = Path(__file__).resolve().parents[2] / "examples" / "wiki"
SLUG = "digits-mlp-vs-logreg"
KEY_ENV = "EXPRUN_TEST_REVIEW_KEY"
KEY = "sk-test-4f1c9e-never-on-disk-7b2d"
REPLY = "VERDICT: issues\n- train.py: the baseline is fit on the same subset as the model (line 101); fine, but say so."


@pytest.fixture
def llm(llm):
    """The loopback endpoint (tests/fake_llm.py) answering with a review that finds issues."""
    llm.body = chat_reply(REPLY)
    return llm


@pytest.fixture
def wiki_root(tmp_path):
    root = tmp_path / "wiki-root"
    shutil.copytree(EXAMPLE_WIKI, root, ignore=shutil.ignore_patterns(".snakemake"))
    return root


def settings_for(base_url: str, enabled: bool = True, timeout_s: float = 5, model: str = "reviewer-7b"):
    return config.parse(
        {
            "review": enabled,
            "review_llm": {"base_url": base_url, "model": model, "api_key_env": KEY_ENV, "timeout_s": timeout_s},
        }
    )


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # nothing listens there any more


def files_containing(root: Path, needle: str) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def on_disk_record(root: Path) -> dict:
    return json.loads(Paths(SLUG, root).review.read_text(encoding="utf-8"))


# ------------------------------------------------------------------ a review that works


def test_review_writes_review_md_and_record_and_sends_the_code(llm, wiki_root, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    settings = settings_for(llm.base_url)
    generate(SLUG, settings, wiki_root)
    code = Paths(SLUG, wiki_root).code_dir

    record = review.review(SLUG, settings, wiki_root)

    assert record["status"] == "reviewed" and record["verdict"] == "issues" and record["model"] == "reviewer-7b"
    assert on_disk_record(wiki_root) == record
    review_md = (code / "REVIEW.md").read_text(encoding="utf-8")
    assert review_md.startswith("# Code review (reviewer-7b)")
    assert REPLY in review_md

    (request,) = llm.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == f"Bearer {KEY}"
    body = json.loads(request["body"])
    assert body["model"] == "reviewer-7b" and body["temperature"] == 0
    system, user = body["messages"]
    assert system == {"role": "system", "content": review.SYSTEM_PROMPT}
    assert user["role"] == "user"
    for path in manifest.code_files(code):  # every code file, whole, under its name
        rel = path.relative_to(code).as_posix()
        assert f"### {rel}\n```\n{path.read_text(encoding='utf-8')}\n```" in user["content"], rel
    assert "Hypothesis: A one-hidden-layer MLP" in user["content"]

    # the review does not change what is approved: REVIEW.md is not part of the code hash
    assert record["code_hash"] == manifest.folder_hash(code)

    # the key went into the header only
    assert files_containing(tmp_path, KEY) == []


@pytest.mark.parametrize(
    "reply,verdict",
    [("VERDICT: ok\nNothing to add.", "ok"), ("verdict: OK", "ok"), ("The code looks mostly fine.", "see REVIEW.md")],
)
def test_verdict_is_read_from_the_reply(llm, wiki_root, monkeypatch, reply, verdict):
    monkeypatch.setenv(KEY_ENV, KEY)
    llm.body = chat_reply(reply)
    settings = settings_for(llm.base_url)
    generate(SLUG, settings, wiki_root)
    record = review.review(SLUG, settings, wiki_root)
    assert (record["status"], record["verdict"]) == ("reviewed", verdict)


def test_without_a_key_no_authorization_header_is_sent(llm, wiki_root, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    settings = settings_for(llm.base_url)
    generate(SLUG, settings, wiki_root)
    assert review.review(SLUG, settings, wiki_root)["status"] == "reviewed"
    assert "authorization" not in llm.requests[0]["headers"]


# ------------------------------------------------------------------ an endpoint that fails


def _down(llm):
    llm.base_url = closed_port_url()


def _http_500(llm):
    llm.status, llm.body = 500, b'{"error": {"message": "internal error"}}'


def _not_json(llm):
    llm.body = b"<html>502 Bad Gateway</html>"


def _no_choices(llm):
    llm.body = b'{"error": "model not loaded"}'


def _empty_choices(llm):
    llm.body = b'{"choices": []}'


def _slow(llm):
    llm.delay_s = 1.0


FAILURES = [
    ("endpoint-down", _down, "refused"),
    ("http-500", _http_500, "HTTP 500"),
    ("malformed-json", _not_json, "not an OpenAI chat completion"),
    ("no-choices", _no_choices, "not an OpenAI chat completion"),
    ("empty-choices", _empty_choices, "not an OpenAI chat completion"),
    ("timeout", _slow, "timed out"),
]


@pytest.mark.parametrize("break_it,phrase", [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES])
def test_failing_endpoint_is_unreviewed_with_a_reason(llm, wiki_root, tmp_path, monkeypatch, break_it, phrase):
    monkeypatch.setenv(KEY_ENV, KEY)
    break_it(llm)
    settings = settings_for(llm.base_url, timeout_s=0.3)
    generate(SLUG, settings, wiki_root)

    record = review.review(SLUG, settings, wiki_root)  # never raises

    assert record["status"] == "unreviewed"
    assert record["reason"].startswith("review endpoint failed: ")
    assert phrase in record["reason"]
    assert on_disk_record(wiki_root) == record
    assert not (Paths(SLUG, wiki_root).code_dir / "REVIEW.md").exists()
    assert files_containing(tmp_path, KEY) == []


def test_null_content_is_unreviewed_not_an_exception(llm, wiki_root, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    llm.body = chat_reply(None)
    settings = settings_for(llm.base_url)
    generate(SLUG, settings, wiki_root)
    assert review.review(SLUG, settings, wiki_root)["status"] == "unreviewed"


# ------------------------------------------------------------------ review not asked for


def test_review_disabled_is_unreviewed_and_sends_nothing(llm, wiki_root, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    settings = settings_for(llm.base_url, enabled=False)
    generate(SLUG, settings, wiki_root)

    record = review.review(SLUG, settings, wiki_root)

    assert record["status"] == "unreviewed"
    assert "review disabled" in record["reason"]
    assert record["code_hash"] == manifest.folder_hash(Paths(SLUG, wiki_root).code_dir)
    assert on_disk_record(wiki_root) == record
    assert llm.requests == []
    assert not (Paths(SLUG, wiki_root).code_dir / "REVIEW.md").exists()
    assert files_containing(tmp_path, KEY) == []


@pytest.mark.parametrize(
    "base_url,model", [("", "reviewer-7b"), ("http://127.0.0.1:9/v1", "")], ids=["no-url", "no-model"]
)
def test_review_enabled_but_not_configured_is_unreviewed(wiki_root, base_url, model):
    settings = settings_for(base_url, model=model)
    generate(SLUG, settings, wiki_root)
    record = review.review(SLUG, settings, wiki_root)
    assert record["status"] == "unreviewed" and "not set" in record["reason"]


# ------------------------------------------------------------------ the wiki's own reviewer settings (LLM_*, .env)

WIKI_KEY = "sk-wiki-env-file-5e1d-never-elsewhere"


@pytest.fixture
def no_wiki_env(monkeypatch):
    for name in review.WIKI_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def write_env(root: Path, base_url: str, model: str = "deepseek-chat") -> Path:
    """A .env as the wiki's .env.example leads people to write it: comments, an export, quotes."""
    path = root / ".env"
    path.write_text(
        "# --- Review LLM (Optional, OpenAI-compatible) ---\n"
        "SEMANTIC_SCHOLAR_API_KEY=\n"
        f"LLM_API_KEY={WIKI_KEY}\n"
        f'export LLM_BASE_URL="{base_url}"   # a local server\n'
        f"LLM_MODEL='{model}'\n"
        "# LLM_FALLBACK_MODEL=    # Optional\n"
    )
    return path


def test_review_llm_unset_uses_the_wikis_env_file(llm, wiki_root, tmp_path, no_wiki_env):
    env_file = write_env(wiki_root, llm.base_url)
    settings = config.parse({"review": True})  # review_llm left unset
    generate(SLUG, settings, wiki_root)

    record = review.review(SLUG, settings, wiki_root)

    assert record["status"] == "reviewed" and record["model"] == "deepseek-chat", record
    assert record["reviewer"] == {
        "model": "deepseek-chat",
        "base_url": llm.base_url,
        "settings_from": f"LLM_BASE_URL, LLM_MODEL, LLM_API_KEY from {env_file}",
    }
    (request,) = llm.requests
    assert request["headers"]["authorization"] == f"Bearer {WIKI_KEY}"
    assert json.loads(request["body"])["model"] == "deepseek-chat"
    assert [f for f in files_containing(tmp_path, WIKI_KEY) if f != str(env_file.relative_to(tmp_path))] == []

    from exprun.gate import approval as gate

    text = gate.checklist(SLUG, settings, wiki_root, "headline")
    assert f"reviewed by deepseek-chat at {llm.base_url} (LLM_BASE_URL, LLM_MODEL, LLM_API_KEY from {env_file})" in (
        text
    )
    assert f"review endpoint={llm.base_url} model=deepseek-chat (LLM_BASE_URL, LLM_MODEL, LLM_API_KEY from" in text
    assert WIKI_KEY not in text


def test_the_environment_wins_over_the_env_file(llm, wiki_root, no_wiki_env, monkeypatch):
    env_file = write_env(wiki_root, closed_port_url(), model="file-model")
    monkeypatch.setenv("LLM_BASE_URL", llm.base_url)
    monkeypatch.setenv("LLM_MODEL", "env-model")
    settings = config.parse({"review": True})
    generate(SLUG, settings, wiki_root)
    record = review.review(SLUG, settings, wiki_root)
    assert record["status"] == "reviewed" and record["model"] == "env-model"
    assert record["reviewer"]["settings_from"] == (
        f"LLM_BASE_URL, LLM_MODEL from the environment; LLM_API_KEY from {env_file}"
    )
    assert llm.requests[0]["headers"]["authorization"] == f"Bearer {WIKI_KEY}"


def test_review_llm_set_wins_over_the_wikis_variables(llm, wiki_root, no_wiki_env, monkeypatch):
    write_env(wiki_root, closed_port_url(), model="file-model")
    monkeypatch.setenv(KEY_ENV, KEY)
    settings = settings_for(llm.base_url)
    generate(SLUG, settings, wiki_root)
    record = review.review(SLUG, settings, wiki_root)
    assert record["status"] == "reviewed" and record["model"] == "reviewer-7b"
    assert record["reviewer"]["settings_from"] == f"exprun's review_llm setting; API key from ${KEY_ENV} (set)"
    assert llm.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"


def test_no_reviewer_anywhere_is_unreviewed_naming_where_it_looked(wiki_root, no_wiki_env):
    settings = config.parse({"review": True})
    generate(SLUG, settings, wiki_root)
    record = review.review(SLUG, settings, wiki_root)
    assert record["status"] == "unreviewed"
    assert record["reason"].startswith("no reviewer configured: review_llm is unset and LLM_BASE_URL and LLM_MODEL")
    assert (
        str(wiki_root / ".env") in record["reason"]
        and "LLM_BASE_URL, LLM_MODEL, LLM_API_KEY not set" in (record["reason"])
    )


def test_a_broken_env_file_is_unreviewed_with_its_line_never_the_key(wiki_root, no_wiki_env):
    (wiki_root / ".env").write_text(f'# comment\nLLM_API_KEY="{WIKI_KEY}\n')
    settings = config.parse({"review": True})
    generate(SLUG, settings, wiki_root)
    record = review.review(SLUG, settings, wiki_root)
    assert record["status"] == "unreviewed" and record["reason"] == (
        f"no reviewer: {wiki_root / '.env'}:2: the value's \" quote is never closed"
    )
    assert WIKI_KEY not in json.dumps(record)


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://api.deepseek.com/v1", "https://api.deepseek.com/v1"),
        ("https://me:sk-token@llm.example.org:8443/v1?api_key=sk-2", "https://llm.example.org:8443/v1"),
        ("http://[::1]:8000/v1", "http://[::1]:8000/v1"),
        ("sk-not-a-url", "(not a URL)"),
        ("", ""),
    ],
)
def test_the_endpoint_is_shown_without_credentials(url, shown):
    assert review.shown_url(url) == shown
