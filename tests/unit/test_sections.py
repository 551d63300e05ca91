"""Body sections: replace one `## Section`, create a missing one in template order."""

from __future__ import annotations

import re
import shutil

import pytest

from exprun.wiki import pages, sections, yamledit

TEMPLATE = list(sections.CANONICAL_ORDER)

BODY = """\

## Objective

Check whether the MLP wins.

## Setup

- Data: digits
- Seeds: 0, 1, 2

```markdown
## Results
this is an example inside a code fence, not a heading
```

## Procedure

1. Train.

## Results

(to be filled after /exp-run)

### Run 1

old run notes

## Analysis

(to be filled after /exp-run)

## Idea updates

## Follow-up

- [[next-idea]]
"""


def headings(body: str) -> list[str]:
    """Level-2 headings outside code fences, in order."""
    out, fence = [], None
    for line in body.splitlines():
        marker = re.match(r"^ {0,3}(```|~~~)", line)
        if marker:
            fence = None if fence == marker.group(1) else (fence or marker.group(1))
            continue
        if not fence and line.startswith("## "):
            out.append(line[3:].strip())
    return out


def split_sections(body: str) -> dict[str, str]:
    """Every level-2 section's full text (heading included), fences respected."""
    lines = body.splitlines(keepends=True)
    found = sections._headings(lines)
    starts = [(i, name) for i, level, name in found if level == 2]
    result = {}
    for n, (start, name) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        result[name] = "".join(lines[start:end])
    return result


def test_replace_results_leaves_every_other_section_intact():
    new = sections.replace_section(BODY, "Results", "| seed | acc |\n|---|---|\n| 0 | 0.97 |")
    assert sections.read_section(new, "Results") == "| seed | acc |\n|---|---|\n| 0 | 0.97 |"
    before, after = split_sections(BODY), split_sections(new)
    assert list(after) == list(before)
    for name in before:
        if name != "Results":
            assert after[name] == before[name], name
    assert "old run notes" not in new  # the old content (and its sub-sections) is gone
    assert new.startswith(BODY[: BODY.index("## Results\n\n(to be filled")])
    assert new.endswith(BODY[BODY.index("## Analysis") :])


def test_replace_analysis_leaves_every_other_section_intact():
    new = sections.replace_section(BODY, "Analysis", "The MLP wins by 1.2 points.\n\nSpread is small.")
    assert sections.read_section(new, "Analysis") == "The MLP wins by 1.2 points.\n\nSpread is small."
    before, after = split_sections(BODY), split_sections(new)
    for name in before:
        if name != "Analysis":
            assert after[name] == before[name], name
    assert new.replace(split_sections(new)["Analysis"], "") == BODY.replace(before["Analysis"], "")


def test_replacing_twice_is_idempotent():
    once = sections.replace_section(BODY, "Results", "R")
    assert sections.replace_section(once, "Results", "R") == once


def test_empty_content_leaves_only_the_heading():
    new = sections.replace_section(BODY, "Analysis", "")
    assert sections.read_section(new, "Analysis") == ""
    assert "## Analysis\n\n## Idea updates" in new


def test_fenced_heading_is_not_a_section():
    assert sections.read_section(BODY, "Results").startswith("(to be filled after /exp-run)")
    new = sections.replace_section(BODY, "Results", "real results")
    assert "```markdown\n## Results\nthis is an example inside a code fence, not a heading\n```" in new
    assert new.count("real results") == 1
    assert new.index("real results") > new.index("## Procedure")


def test_fenced_heading_does_not_count_when_the_section_is_missing():
    body = "## Objective\n\no\n\n~~~\n## Results\n```\nstill fenced\n~~~\n\n## Analysis\n\na\n"
    assert sections.read_section(body, "Results") is None
    new = sections.replace_section(body, "Results", "R")
    assert headings(new) == ["Objective", "Results", "Analysis"]
    assert "~~~\n## Results\n```\nstill fenced\n~~~\n" in new


@pytest.mark.parametrize("missing", TEMPLATE)
def test_missing_section_is_created_in_template_order(missing):
    body = "\n" + "".join(f"## {name}\n\n{name} text\n\n" for name in TEMPLATE if name != missing)
    new = sections.replace_section(body, missing, f"new {missing} content")
    assert headings(new) == TEMPLATE
    assert sections.read_section(new, missing) == f"new {missing} content"
    for name in TEMPLATE:
        if name != missing:
            assert sections.read_section(new, name) == f"{name} text"


def test_missing_section_goes_before_the_first_later_template_section():
    body = "## Objective\n\no\n\n## Follow-up\n\nf\n"
    new = sections.replace_section(body, "Results", "r")
    assert headings(new) == ["Objective", "Results", "Follow-up"]
    new = sections.replace_section(new, "Setup", "s")
    assert headings(new) == ["Objective", "Setup", "Results", "Follow-up"]
    new = sections.replace_section(new, "Analysis", "a")
    assert headings(new) == ["Objective", "Setup", "Results", "Analysis", "Follow-up"]


def test_missing_section_without_later_sections_is_appended():
    body = "## Objective\n\nobjective without a final newline"
    new = sections.replace_section(body, "Results", "r")
    assert new.startswith(body + "\n")
    assert headings(new) == ["Objective", "Results"]
    assert sections.read_section(new, "Objective") == "objective without a final newline"


def test_non_template_section_is_appended_at_the_end():
    new = sections.replace_section(BODY, "Claim updates", "c")
    assert headings(new) == headings(BODY) + ["Claim updates"]


def test_section_titles_match_case_insensitively():
    body = "## Objective\n\no\n\n## RESULTS\n\nold\n"
    new = sections.replace_section(body, "Results", "new")
    assert new == "## Objective\n\no\n\n## RESULTS\n\nnew\n"


def test_crlf_body_stays_crlf():
    body = BODY.replace("\n", "\r\n")
    new = sections.replace_section(body, "Results", "line 1\nline 2\r\nline 3")
    assert "\n" not in new.replace("\r\n", "")
    assert sections.read_section(new, "Results") == "line 1\r\nline 2\r\nline 3"
    for name, text in split_sections(body).items():
        if name != "Results":
            assert text in new, name


def test_missing_section_created_in_crlf_body():
    body = BODY.replace("## Analysis\n\n(to be filled after /exp-run)\n\n", "").replace("\n", "\r\n")
    new = sections.replace_section(body, "Analysis", "a1\na2")
    assert "\n" not in new.replace("\r\n", "")
    assert headings(new.replace("\r\n", "\n")) == TEMPLATE
    assert "## Results" in new and "## Analysis\r\n\r\na1\r\na2\r\n\r\n## Idea updates" in new


def test_read_section_missing_is_none():
    assert sections.read_section(BODY, "Nope") is None
    assert sections.read_section("", "Results") is None


# --------------------------------------------------------------------------- on page files


def test_replace_sections_on_a_page_keeps_frontmatter_bytes(example_wiki):
    path = example_wiki / "wiki" / "experiments" / "digits-mlp-vs-logreg.md"
    for newline in ("\n", "\r\n"):
        text = path.read_text().replace("\r\n", "\n").replace("\n", newline)
        path.write_bytes(text.encode())
        pages.replace_sections(path, {"Results": "acc 0.97", "Analysis": "MLP wins"})
        new = path.read_bytes().decode()
        fm_old, fm_new = yamledit.split_frontmatter(text), yamledit.split_frontmatter(new)
        assert fm_new.head + fm_new.yaml_text == fm_old.head + fm_old.yaml_text
        page = pages.load_page(path)
        assert sections.read_section(page.body, "Results") == "acc 0.97".replace("\n", newline)
        assert sections.read_section(page.body, "Analysis") == "MLP wins"
        assert headings(page.body.replace("\r\n", "\n")) == TEMPLATE
        if newline == "\r\n":
            assert "\n" not in new.replace("\r\n", "")


def test_replace_sections_on_every_corpus_page(corpus_page, tmp_path):
    path = tmp_path / corpus_page.name
    shutil.copyfile(corpus_page, path)
    text = path.read_text(encoding="utf-8")
    before = split_sections(pages.parse_page(text, path).body)

    pages.replace_sections(path, {"Results": "new results\n\n| a | b |", "Analysis": "new analysis"})

    new = path.read_text(encoding="utf-8")
    fm_old, fm_new = yamledit.split_frontmatter(text), yamledit.split_frontmatter(new)
    assert fm_new.yaml_text == fm_old.yaml_text
    body = pages.parse_page(new, path).body
    assert sections.read_section(body, "Results") == "new results\n\n| a | b |"
    assert sections.read_section(body, "Analysis") == "new analysis"
    after = split_sections(body)
    for name, section in before.items():
        if name.lower() not in ("results", "analysis"):
            assert after[name] == section, name


# --------------------------------------------------------------------------- exprun's blocks: the rest is the person's


def kept_in_order(before: list[str], after: list[str]) -> list[str]:
    """The lines of `before` (placeholders aside) missing from `after` in the same order ([] when all kept)."""
    missing, position = [], 0
    for line in before:
        if sections.PLACEHOLDER.match(line):
            continue
        try:
            position = after.index(line, position) + 1
        except ValueError:
            missing.append(line)
    return missing


def test_exprun_blocks_keep_every_line_of_every_corpus_page(corpus_page, tmp_path):
    """Collect's page write on each real page: every line the person wrote (pre-registered targets, decision
    logic in Results/Analysis …) survives, in order; only a lone template placeholder gives way."""
    path = tmp_path / corpus_page.name
    shutil.copyfile(corpus_page, path)
    text = path.read_text(encoding="utf-8")
    blocks = {"Results": "| metric | mean |\n|---|---|\n| auroc | 0.81 |", "Analysis": "Outcome: **succeeded**"}
    pages.write_blocks(path, blocks)
    new = path.read_text(encoding="utf-8")
    assert kept_in_order(text.splitlines(), new.splitlines()) == []
    assert yamledit.split_frontmatter(new).yaml_text == yamledit.split_frontmatter(text).yaml_text
    body = pages.parse_page(new, path).body
    for title, content in blocks.items():
        assert content in sections.read_section(body, title)
    pages.write_blocks(path, {"Results": "second", "Analysis": "again"})  # a second write replaces only the blocks
    again = path.read_text(encoding="utf-8")
    assert kept_in_order(text.splitlines(), again.splitlines()) == []
    assert "auroc | 0.81" not in again and again.count("<!-- exprun:begin results") == 1


def test_a_corpus_page_completes_with_the_persons_text_kept(corpus_page, tmp_path):
    """The completion itself (status, fields and blocks in one write) on every real page, each taken to
    `running` first (the planned ones as a deploy does; the others as if they had been)."""
    from exprun.wiki import lifecycle

    path = tmp_path / corpus_page.name
    shutil.copyfile(corpus_page, path)
    if pages.load_page(path).status == "planned":
        lifecycle.transition(path, "running")
    else:
        pages.set_field(path, "status", "running")
    running = path.read_text(encoding="utf-8")
    lifecycle.transition(
        path,
        "completed",
        {"outcome": "succeeded", "key_result": "auroc 0.81 over 3 seeds"},
        today="2026-12-04",
        blocks={"Results": "table", "Analysis": "words"},
    )
    done = pages.load_page(path)
    assert done.status == "completed" and done.get("outcome") == "succeeded"
    body_before = pages.parse_page(running, path).body.splitlines()
    assert kept_in_order(body_before, done.body.splitlines()) == []


def test_the_persons_text_in_analysis_stays_above_the_block():
    body = (
        "\n## Results\n\n(to be filled after /exp-run)\n\n## Analysis\n\nSucceed if AUROC >= 0.8.\n\n"
        "## Follow-up\n\nx\n"
    )
    new = sections.write_block(body, "Analysis", "Outcome: failed")
    analysis = sections.read_section(new, "Analysis")
    assert analysis.startswith("Succeed if AUROC >= 0.8.\n\n<!-- exprun:begin analysis")
    assert analysis.endswith("Outcome: failed\n<!-- exprun:end analysis -->")
    results = sections.write_block(new, "Results", "table")
    assert "(to be filled after /exp-run)" not in results and sections.read_section(results, "Follow-up") == "x"
