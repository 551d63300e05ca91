"""codegen.command: a coding agent on the command line (here a small script) gets {prompt}, {context},
{target} and {round}; the same scenarios as the LLM generator, plus what only an agent with a shell can try."""

from __future__ import annotations

import json
import sys

import pytest

import research_page as rp
from exprun.core import config
from exprun.core.errors import ExprunError, SanityError
from exprun.core.paths import Paths
from exprun.prepare import code_repair
from exprun.prepare.codegen import generate, manifest, rounds

AGENT = r"""
import json, os, pathlib, sys
prompt, context, target, round_name, plan = sys.argv[1:6]
target, plan = pathlib.Path(target), json.loads(pathlib.Path(plan).read_text())
text = pathlib.Path(prompt).read_text()
with open(pathlib.Path(sys.argv[5]).with_name("calls.jsonl"), "a") as log:
    log.write(json.dumps({"round": round_name, "env_round": os.environ.get("EXPRUN_ROUND"),
                          "traceback": "Traceback (most recent call last)" in text, "prompt_head": text[:40],
                          "context_slug": json.loads(pathlib.Path(context).read_text())["experiment"]["slug"],
                          "saw": sorted(p.name for p in target.iterdir())}) + "\n")
step = plan.get(round_name, {})
if step.get("fail"):
    print("the agent gave up: " + step["fail"]); sys.exit(3)
for rel, content in step.get("files", {}).items():
    (target / rel).parent.mkdir(parents=True, exist_ok=True)
    (target / rel).write_text(content)
if step.get("outside"):
    (target.parent / "escape.py").write_text("import os")
if step.get("link"):
    (target / "data_link").symlink_to("/etc")
print("agent notes: " + step.get("notes", "done"))
"""


@pytest.fixture
def wiki(tmp_path, example_wiki):
    return rp.make_wiki(tmp_path / "wiki", example_wiki)


@pytest.fixture
def agent(tmp_path):
    """(settings, plan writer, calls reader) for the scripted agent."""
    script = tmp_path / "agent" / "agent.py"
    script.parent.mkdir()
    script.write_text(AGENT)
    plan = script.with_name("plan.json")
    settings = config.parse(
        {
            "codegen": {
                "command": [sys.executable, str(script), "{prompt}", "{context}", "{target}", "{round}", str(plan)]
            }
        }
    )

    def set_plan(**rounds_plan):
        plan.write_text(json.dumps({k.replace("_", "-"): v for k, v in rounds_plan.items()}))

    def calls():
        path = script.with_name("calls.jsonl")
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    return settings, set_plan, calls


def test_the_agent_writes_the_code_and_it_passes_sanity(agent, wiki):
    settings, set_plan, calls = agent
    set_plan(generate={"files": rp.files(), "notes": "wrote train.py with the majority baseline"})
    result = generate.generate(rp.SLUG, settings, wiki)
    code = Paths(rp.SLUG, wiki).code_dir
    assert result.generator == "agent.py"  # the agent, not the interpreter that runs it
    assert (code / "train.py").read_text() == rp.WORKING and (code / "run.sh").exists()
    assert "agent notes: wrote train.py with the majority baseline" in (code / "CONTEXT.md").read_text()
    (call,) = calls()
    assert call["round"] == "generate" == call["env_round"] and call["context_slug"] == rp.SLUG
    assert call["prompt_head"].startswith("# Round: generate")
    assert code_repair.sanity_with_repair(rp.SLUG, settings, wiki)["status"] == "passed"


def test_a_crash_goes_back_to_the_agent_and_its_fix_passes(agent, wiki):
    settings, set_plan, calls = agent
    set_plan(generate={"files": rp.files(rp.CRASHING)}, fix_sanity={"files": {"train.py": rp.WORKING}})
    generate.generate(rp.SLUG, settings, wiki)
    report = code_repair.sanity_with_repair(rp.SLUG, settings, wiki)
    assert report["status"] == "passed"
    fix = calls()[1]
    assert fix["round"] == "fix-sanity" and fix["traceback"] and "train.py" in fix["saw"]
    assert [r["round"] for r in rounds.history(rp.SLUG, wiki)] == ["generate", "fix-sanity"]


def test_an_agent_fix_that_still_crashes_stops_with_both_failures(agent, wiki):
    settings, set_plan, _ = agent
    set_plan(generate={"files": rp.files(rp.CRASHING)}, fix_sanity={"files": {"train.py": rp.STILL_CRASHING}})
    generate.generate(rp.SLUG, settings, wiki)
    with pytest.raises(SanityError, match="failed twice") as failed:
        code_repair.sanity_with_repair(rp.SLUG, settings, wiki)
    assert "ZeroDivisionError" in str(failed.value) and "IndexError" in str(failed.value)


def test_a_review_goes_to_the_agent_for_one_fix_round(agent, wiki, llm):
    settings, set_plan, calls = agent
    settings = settings.replace(
        review=True, review_llm=config.parse({"review_llm": {"base_url": llm.base_url, "model": "reviewer"}}).review_llm
    )
    from fake_llm import chat_reply

    llm.script(chat_reply("VERDICT: issues\n- train.py: no docstring on main()."))
    set_plan(
        generate={"files": rp.files()},
        fix_review={
            "files": {"train.py": rp.WORKING.replace("def main():", 'def main():\n    """Train, evaluate, write."""')},
            "notes": "added the docstring",
        },
    )
    generate.generate(rp.SLUG, settings, wiki)
    record = code_repair.review_and_repair(rp.SLUG, settings, wiki)
    assert record["fix"].startswith("fix-review (agent.py): wrote train.py")
    review_md = (Paths(rp.SLUG, wiki).code_dir / "REVIEW.md").read_text()
    assert "no docstring on main()" in review_md and "agent notes: added the docstring" in review_md
    assert '+    """Train, evaluate, write."""' in review_md
    assert [c["round"] for c in calls()] == ["generate", "fix-review"]


def test_what_an_agent_leaves_outside_its_folder_or_as_links_is_not_taken(agent, wiki, tmp_path):
    settings, set_plan, _ = agent
    set_plan(generate={"files": rp.files(), "outside": True})
    generate.generate(rp.SLUG, settings, wiki)
    code = Paths(rp.SLUG, wiki).code_dir
    assert not (code.parent / "escape.py").exists() and not (code / "escape.py").exists()
    set_plan(generate={"files": rp.files(), "link": True})
    with pytest.raises(ExprunError, match="it made links \\(data_link\\)"):
        generate.generate(rp.SLUG, settings, wiki, force=True)
    assert not (code / "data_link").exists()


def test_agent_failures_are_clear(agent, wiki, tmp_path):
    settings, set_plan, _ = agent
    set_plan(generate={"fail": "model refused"})
    with pytest.raises(ExprunError, match="exited with 3") as caught:
        generate.generate(rp.SLUG, settings, wiki)
    assert "the agent gave up: model refused" in str(caught.value)
    set_plan(generate={})
    with pytest.raises(ExprunError, match="returned no files"):
        generate.generate(rp.SLUG, settings, wiki)
    missing = config.parse({"codegen": {"command": ["no-such-agent-xyz", "{prompt}"]}})
    with pytest.raises(ExprunError, match="'no-such-agent-xyz' not found"):
        generate.generate(rp.SLUG, missing, wiki)
    slow = config.parse(
        {"codegen": {"command": [sys.executable, "-c", "import time; time.sleep(5)"], "timeout_s": 0.5}}
    )
    with pytest.raises(ExprunError, match="no answer within codegen.timeout_s=0.5 s"):
        generate.generate(rp.SLUG, slow, wiki)


def test_a_person_s_edit_survives_an_agent_regeneration(agent, wiki):
    settings, set_plan, _ = agent
    set_plan(generate={"files": rp.files()})
    generate.generate(rp.SLUG, settings, wiki)
    code = Paths(rp.SLUG, wiki).code_dir
    (code / "train.py").write_text("# mine\n" + rp.WORKING)
    set_plan(generate={"files": rp.files(rp.CRASHING)})
    result = generate.generate(rp.SLUG, settings, wiki)
    assert result.kept == ["train.py"] and (code / "train.py").read_text().startswith("# mine\n")
    assert manifest.human_changes(code) == ["train.py"]


def test_only_the_four_placeholders_are_filled(agent, wiki, tmp_path):
    """Other braces in the command (a shell `${HOME}`, JSON) reach the agent as written."""
    script = tmp_path / "echo_args.py"
    script.write_text(
        "import json, pathlib, sys\npathlib.Path(sys.argv[1], 'train.py').write_text(json.dumps(sys.argv[2:]))\n"
    )
    settings = config.parse(
        {"codegen": {"command": [sys.executable, str(script), "{target}", "${HOME}", '{"a": 1}', "{round}"]}}
    )
    generate.generate(rp.SLUG, settings, wiki)
    written = json.loads((Paths(rp.SLUG, wiki).code_dir / "train.py").read_text())
    assert written == ["${HOME}", '{"a": 1}', "generate"]
