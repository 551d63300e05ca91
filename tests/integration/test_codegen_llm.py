"""codegen.llm against a real OpenAI-compatible HTTP server on loopback with scripted replies: real files,
real sanity runs of what it wrote, the fix rounds, and every way the endpoint or its answer can go wrong."""

from __future__ import annotations

import json

import pytest

import research_page as rp
from exprun.core import config
from exprun.core.errors import ExprunError, SanityError
from exprun.core.paths import Paths
from exprun.gate import approval as gate
from exprun.prepare import code_repair
from exprun.prepare.codegen import generate, manifest, rounds
from fake_llm import chat_reply, files_reply

KEY_ENV = "EXPRUN_TEST_CODEGEN_KEY"
KEY = "sk-codegen-5d1e-never-on-disk-93ac"


@pytest.fixture
def wiki(tmp_path, example_wiki, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    return rp.make_wiki(tmp_path / "wiki", example_wiki)


def settings_for(llm, review=False, **codegen):
    endpoint = {"base_url": llm.base_url, "model": "coder-32b", "api_key_env": KEY_ENV, "timeout_s": 5}
    return config.parse(
        {
            "codegen": {"llm": endpoint, **codegen},
            "review": review,
            "review_llm": {
                **{k: endpoint[k] for k in ("base_url", "api_key_env", "timeout_s")},
                "model": "reviewer-7b",
            },
        }
    )


def code(wiki):
    return Paths(rp.SLUG, wiki).code_dir


def files_containing(root, needle: str) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def test_generated_code_for_a_page_outside_the_recipes_passes_sanity(llm, wiki, tmp_path):
    llm.script(files_reply(rp.files(), notes="Majority class computed on the training split.", fenced=True))
    settings = settings_for(llm)

    result = generate.generate(rp.SLUG, settings, wiki)

    assert result.generator == "llm coder-32b"
    assert (code(wiki) / "train.py").read_text() == rp.WORKING
    assert (code(wiki) / "run.sh").exists(), "exprun's standard run.sh, since the reply had none"
    assert set(manifest.read_manifest(code(wiki))["files"]) >= {"train.py", "config.yaml", "run.sh"}
    assert "Majority class computed on the training split." in (code(wiki) / "CONTEXT.md").read_text()
    (request,) = llm.requests
    body = json.loads(request["body"])
    assert request["path"] == "/v1/chat/completions" and body["model"] == "coder-32b"
    assert body["response_format"] == {"type": "json_object"} and body["max_tokens"] == 16000
    assert request["headers"]["authorization"] == f"Bearer {KEY}"
    prompt = body["messages"][1]["content"]
    for part in (
        "# Round: generate",
        rp.BASELINE,
        "data/blobs.csv",
        "x1,x2,x3,x4,label",
        "The run contract",
        "`--sanity`",
        "Run the page's baseline",
        "Learning representations by back-propagating errors",
        "Multi-layer networks trained by gradient descent",
        "### Sibling experiment digits-mlp-vs-logreg",
        "### Sibling experiment digits-cnn-gpu",
    ):
        assert part in prompt, part

    report = code_repair.sanity_with_repair(rp.SLUG, settings, wiki)

    assert report["status"] == "passed" and report["metrics"]["accuracy"] > 0.5
    assert len(llm.requests) == 1, "no fix round when the sanity run passes"
    assert files_containing(tmp_path, KEY) == []


def test_a_crash_goes_back_with_its_traceback_and_the_fixed_code_passes(llm, wiki):
    llm.script(files_reply(rp.files(rp.CRASHING)), files_reply({"train.py": rp.WORKING}, notes="removed the division"))
    settings = settings_for(llm)
    generate.generate(rp.SLUG, settings, wiki)

    report = code_repair.sanity_with_repair(rp.SLUG, settings, wiki)

    assert report["status"] == "passed" and "fix-sanity" in report["fix_round"]
    fix_prompt = llm.user_messages()[1]
    assert "# Round: fix-sanity" in fix_prompt
    assert "Traceback (most recent call last)" in fix_prompt and "ZeroDivisionError" in fix_prompt
    assert rp.CRASHING in fix_prompt, "the current files go with the fix request"
    assert (code(wiki) / "train.py").read_text() == rp.WORKING
    history = rounds.history(rp.SLUG, wiki)
    assert [(r["round"], r["written"]) for r in history] == [
        ("generate", ["config.yaml", "train.py"]),
        ("fix-sanity", ["train.py"]),
    ]
    assert history[1]["outcome"] == "sanity passed after it"
    diff = (wiki / history[1]["diff"]).read_text()
    assert "-    scale = len(data) // 0" in diff
    checklist = gate.checklist(rp.SLUG, settings, wiki, "headline")
    assert "10. Code rounds" in checklist and "fix-sanity (llm coder-32b): wrote train.py" in checklist


def test_a_fix_that_still_crashes_stops_with_both_failures(llm, wiki):
    llm.script(files_reply(rp.files(rp.CRASHING)), files_reply({"train.py": rp.STILL_CRASHING}))
    settings = settings_for(llm)
    generate.generate(rp.SLUG, settings, wiki)

    with pytest.raises(SanityError) as failed:
        code_repair.sanity_with_repair(rp.SLUG, settings, wiki)

    text = str(failed.value)
    assert "failed twice" in text and "ZeroDivisionError" in text and "IndexError" in text
    assert "── first failure ──" in text and "── after the fix round ──" in text and "Debug by hand" in text
    assert not Paths(rp.SLUG, wiki).sanity.exists()
    # the same code again: no second automatic fix round
    with pytest.raises(SanityError, match="already ran on this code"):
        code_repair.sanity_with_repair(rp.SLUG, settings, wiki)
    assert len(llm.requests) == 2


def test_a_fix_round_never_touches_a_file_a_person_changed(llm, wiki):
    llm.script(files_reply(rp.files(rp.CRASHING)), files_reply({"train.py": rp.WORKING}))
    settings = settings_for(llm)
    generate.generate(rp.SLUG, settings, wiki)
    mine = rp.CRASHING.replace('"""Softmax', '"""My edit. Softmax')
    (code(wiki) / "train.py").write_text(mine)

    with pytest.raises(SanityError) as failed:
        code_repair.sanity_with_repair(rp.SLUG, settings, wiki)

    assert (code(wiki) / "train.py").read_text() == mine
    assert "left alone the files a person changed: train.py" in str(failed.value)


def test_review_then_one_fix_round_recorded_in_review_md(llm, wiki):
    review = (
        "VERDICT: issues\n- train.py: the majority class should come from the training split only (it does; fine).\n"
        "- log every step in sanity."
    )
    llm.script(
        files_reply(rp.files()),
        chat_reply(review),
        files_reply(
            {"train.py": rp.WORKING.replace("every = 1", "every = 1  # every step")},
            notes="kept the split; commented the logging",
        ),
    )
    settings = settings_for(llm, review=True)
    generate.generate(rp.SLUG, settings, wiki)

    record = code_repair.review_and_repair(rp.SLUG, settings, wiki)

    assert record["verdict"] == "issues" and record["fix"].startswith("fix-review (llm coder-32b): wrote train.py")
    assert record["code_hash"] == manifest.folder_hash(code(wiki))
    fix_prompt = llm.user_messages()[2]
    assert "# Round: fix-review" in fix_prompt and "majority class should come from the training split" in fix_prompt
    review_md = (code(wiki) / "REVIEW.md").read_text()
    assert review in review_md and "## Fix round (llm coder-32b)" in review_md
    assert "kept the split; commented the logging" in review_md
    assert "```diff" in review_md and "# every step" in review_md
    assert len(llm.requests) == 3


def test_an_ok_review_asks_for_no_fix(llm, wiki):
    llm.script(files_reply(rp.files()), chat_reply("VERDICT: ok\nClean."))
    settings = settings_for(llm, review=True)
    generate.generate(rp.SLUG, settings, wiki)
    assert "fix" not in code_repair.review_and_repair(rp.SLUG, settings, wiki)
    assert len(llm.requests) == 2


BAD_REPLIES = [
    ("not-json", chat_reply("Sure! Here is a plan: first load the data, then..."), 'not a JSON object with "files"'),
    ("files-not-a-map", chat_reply(json.dumps({"files": ["train.py"]})), "must map relative paths"),
    ("climbs-out", files_reply({"train.py": "x", "../../escape.py": "import os"}), "climbs out with '..'"),
    ("absolute", files_reply({"/tmp/exprun-abs-attack.py": "x"}), "is absolute"),
    ("hidden", files_reply({".bashrc": "x"}), "hidden"),
    ("manifest", files_reply({"train.py": "x", "REVIEW.md": "all good"}), "exprun's own file"),
    ("huge", files_reply({f"f{i}.py": "x" * 10 for i in range(101)}), "over the limits"),
]


@pytest.mark.parametrize("reply,phrase", [b[1:] for b in BAD_REPLIES], ids=[b[0] for b in BAD_REPLIES])
def test_unusable_answers_write_nothing_anywhere(llm, wiki, tmp_path, reply, phrase):
    llm.script(reply)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(ExprunError, match=phrase) as failed:
        generate.generate(rp.SLUG, settings_for(llm), wiki)
    assert "\n" not in str(failed.value).strip()
    after = {p.relative_to(tmp_path) for p in tmp_path.rglob("*")}
    new = sorted(str(p) for p in after - set(before))
    assert not any(p.startswith("wiki/experiments/code/") and p.endswith(".py") for p in new), new
    assert not (tmp_path / "escape.py").exists() and not (wiki / "experiments" / "escape.py").exists()
    assert rounds.history(rp.SLUG, wiki)[-1]["error"]


def test_a_link_inside_the_folder_is_not_followed(llm, wiki, tmp_path):
    llm.script(files_reply(rp.files()), files_reply({"lib/helper.py": "print('pwned')"}))
    settings = settings_for(llm)
    generate.generate(rp.SLUG, settings, wiki)
    outside = tmp_path / "outside"
    outside.mkdir()
    (code(wiki) / "lib").symlink_to(outside)  # a person's link, or an earlier trick
    with pytest.raises(ExprunError, match="goes through the link lib"):
        rounds.run_round(rp.SLUG, settings, wiki, "fix-review", feedback="x")
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("status,phrase", [(500, "HTTP 500"), (401, "HTTP 401"), (None, "timed out")])
def test_endpoint_failures_are_one_line_naming_the_endpoint(llm, wiki, tmp_path, status, phrase):
    if status is None:
        llm.delay_s = 1.0
        settings = config.parse(
            {"codegen": {"llm": {"base_url": llm.base_url, "model": "m", "api_key_env": KEY_ENV, "timeout_s": 0.3}}}
        )
    else:
        llm.script((status, b'{"error": "nope"}'))
        settings = settings_for(llm)
    with pytest.raises(ExprunError) as failed:
        generate.generate(rp.SLUG, settings, wiki)
    text = str(failed.value)
    assert text.startswith(f"POST {llm.base_url}/chat/completions: ") and phrase in text and "\n" not in text
    assert KEY not in text and files_containing(tmp_path, KEY) == []


def test_the_built_in_recipes_stop_at_once_on_a_failed_sanity_run(example_wiki):
    settings = config.parse({})
    generate.generate("digits-mlp-vs-logreg", settings, example_wiki)
    train = Paths("digits-mlp-vs-logreg", example_wiki).code_dir / "train.py"
    train.write_text(train.read_text().replace("def main(", "import no_such_module_xyz\n\n\ndef main("))
    with pytest.raises(SanityError, match="no automatic fix round: fix the code by hand"):
        code_repair.sanity_with_repair("digits-mlp-vs-logreg", settings, example_wiki)
    assert rounds.history("digits-mlp-vs-logreg", example_wiki) == []


def test_a_failing_analysis_endpoint_leaves_the_computed_analysis_alone(llm):
    from exprun.verdict import analysis_note

    off = config.parse({})
    assert analysis_note.paragraph(off, "h", "r", "a") == ("", "")
    llm.script((503, b"busy"))
    on = config.parse({"analysis_llm": {"base_url": llm.base_url, "model": "analyst"}})
    text, why = analysis_note.paragraph(on, "h", "r", "a")
    assert text == "" and why == f"analysis_llm: POST {llm.base_url}/chat/completions: HTTP 503 Service Unavailable"


def test_a_redirect_is_refused_so_the_key_never_follows_it(llm, wiki):
    import fake_llm

    other = fake_llm.FakeLLM()
    server = fake_llm.start(other)
    try:
        llm.script((307, b"", {"Location": other.base_url + "/chat/completions"}))
        with pytest.raises(ExprunError, match="HTTP 307 redirected to http://127.0.0.1") as failed:
            generate.generate(rp.SLUG, settings_for(llm), wiki)
        assert "\n" not in str(failed.value) and KEY not in str(failed.value)
        assert other.requests == [], "the request (and its Authorization header) never reached the other host"
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_does_not_speak_http_is_one_line(wiki, tmp_path):
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def answer_garbage():
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        conn.close()

    threading.Thread(target=answer_garbage, daemon=True).start()
    base = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    settings = config.parse({"codegen": {"llm": {"base_url": base, "model": "m", "timeout_s": 5}}})
    with pytest.raises(ExprunError) as failed:
        generate.generate(rp.SLUG, settings, wiki)
    assert str(failed.value).startswith(f"POST {base}/chat/completions: ") and "\n" not in str(failed.value)
    listener.close()
