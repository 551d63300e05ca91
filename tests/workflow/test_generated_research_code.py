"""Real Snakemake, real screen, a loopback LLM: a page outside the built-in recipes goes from generated code
(crashing first, fixed by the fix round) through the gate, deploy and collect, judged against its own baseline."""

from __future__ import annotations

import json

import yaml
from workflow_helpers import exprun, output, page_meta, snakemake

import research_page as rp
from fake_llm import chat_reply, files_reply

KEY_ENV = "EXPRUN_TEST_CODEGEN_KEY"
KEY = "sk-wf-71b3-never-on-disk-2c9e"


def test_llm_written_code_runs_end_to_end_against_the_page_baseline(
    wiki_root, llm, monkeypatch, tmp_path, screen_available, cleanup_screens
):
    monkeypatch.setenv(KEY_ENV, KEY)
    rp.add_page(wiki_root)
    settings = yaml.safe_load((wiki_root / "config" / "config.yaml").read_text())
    settings["codegen"] = {"llm": {"base_url": llm.base_url, "model": "coder-32b", "api_key_env": KEY_ENV}}
    settings["analysis_llm"] = {"base_url": llm.base_url, "model": "analyst-8b", "api_key_env": KEY_ENV}
    (wiki_root / "config" / "config.yaml").write_text(yaml.safe_dump(settings))
    llm.script(files_reply(rp.files(rp.CRASHING)), files_reply({"train.py": rp.WORKING}, notes="fixed the division"))

    gate = snakemake(wiki_root, f"deploy_{rp.SLUG}")

    assert gate.returncode != 0
    text = output(gate)
    assert "sanity passed" in text and "after the fix round: fix-sanity (llm coder-32b): wrote train.py" in text
    assert f"Approval needed: {rp.SLUG}" in text
    baseline_line = f"8. Baseline    “{rp.BASELINE}” (page: baseline): run by the code: the sanity run wrote baseline"
    assert baseline_line in text
    assert "10. Code rounds generate (llm coder-32b): wrote config.yaml, train.py" in text
    assert "fix-sanity (llm coder-32b): wrote train.py; sanity passed after it" in text
    assert len(llm.requests) == 2 and "ZeroDivisionError" in llm.user_messages()[1]

    llm.script(chat_reply("The softmax model clears the ten-point bar on every seed."))
    approved = exprun(wiki_root, "approve", rp.SLUG)
    assert approved.returncode == 0, output(approved)
    done = snakemake(wiki_root, f"full_{rp.SLUG}", timeout=240)
    assert done.returncode == 0, output(done)

    meta = page_meta(wiki_root, rp.SLUG)
    assert meta["status"] == "completed" and meta["outcome"] == "succeeded", meta
    assert f"vs {rp.BASELINE} " in meta["key_result"]
    page = (wiki_root / "wiki" / "experiments" / f"{rp.SLUG}.md").read_text()
    assert f"Baseline: {rp.BASELINE} — run by the same program on the same data and seeds" in page
    assert " accuracy (+" in page and "(needs Δ ≥ +0.1000): yes, the whole interval is on the success side" in page
    analysis = page.split("## Analysis", 1)[1]
    computed, note = analysis.split("*LLM-written note (analyst-8b; not computed by exprun", 1)
    assert "Outcome: **succeeded**" in computed and "clears the ten-point bar on every seed." in note
    assert "Outcome: **succeeded**" in json.loads(llm.requests[-1]["body"])["messages"][1]["content"]
    leaked = [str(p) for p in tmp_path.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert leaked == []
