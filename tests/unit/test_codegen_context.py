"""Context the wiki's way: papers reached from the page, its idea, and the methods it evaluates
(`evaluates_methods` → wiki/methods/<slug>.md → `source_papers`); the idea's hypothesis from its `## Hypothesis`
section; links written bare or as `[[wikilinks]]`, alone or in lists."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from exprun.core import config
from exprun.prepare.codegen import context as context_mod
from exprun.prepare.codegen import generate, prompt
from exprun.wiki import lifecycle, links

EXPERIMENT = """---
title: "Method A against method B"
slug: ab-test
status: planned
linked_idea: "[[idea-x]]"
evaluates_methods:
  - "[[method-a]]"
  - method-b
hypothesis: "A beats B by at least 2 points of accuracy."
tags: [test]
setup:
  model: "mlp"
  dataset: "digits"
  hardware: "cpu"
  framework: "sklearn"
metrics: [accuracy]
baseline: "method B"
---

## Objective

Compare A with B; the loss follows [[paper-direct]].
"""
IDEA = """---
title: "Idea X"
slug: idea-x
status: proposed
{extra}---

## Motivation

Because [[paper-idea]] hints at it.

## Hypothesis

Method A generalises better than method B on small data.

## Approach sketch

Train both on the same splits.
"""
METHOD = """---
name: "{name}"
slug: {slug}
type: training
tags: []
source_papers: {papers}
---

## Mechanism

{name} works by doing {name} things.

## Procedure

Step one of {name}.
"""
PAPER = """---
title: "{title}"
slug: {slug}
tags: []
importance: 3
---

## Method

The method of {title}, lr 0.01.
"""
SIBLING = """---
title: "Earlier run"
slug: earlier
status: completed
linked_idea: "[[idea-x]]"
hypothesis: "x"
outcome: succeeded
key_result: "A ahead by 3 points"
---
"""


def small_wiki(root: Path, idea_extra: str = "") -> Path:
    wiki = root / "wiki"
    for folder in ("experiments", "ideas", "methods", "papers"):
        (wiki / folder).mkdir(parents=True, exist_ok=True)
    (wiki / "experiments" / "ab-test.md").write_text(EXPERIMENT)
    (wiki / "experiments" / "earlier.md").write_text(SIBLING)
    (wiki / "ideas" / "idea-x.md").write_text(IDEA.format(extra=idea_extra))
    (wiki / "methods" / "method-a.md").write_text(
        METHOD.format(name="Method A", slug="method-a", papers="[[paper-m1]]")
    )
    (wiki / "methods" / "method-b.md").write_text(
        METHOD.format(name="Method B", slug="method-b", papers='["[[paper-m2]]", paper-m1]')
    )
    for slug in ("paper-direct", "paper-idea", "paper-m1", "paper-m2"):
        (wiki / "papers" / f"{slug}.md").write_text(PAPER.format(title=slug.title(), slug=slug))
    return root


def test_papers_reached_through_the_methods_the_page_evaluates(tmp_path):
    root = small_wiki(tmp_path)
    context = context_mod.gather(lifecycle.find_experiment("ab-test", root), root)

    assert [m["slug"] for m in context["methods"]] == ["method-a", "method-b"]
    assert context["methods"][0]["mechanism"] == "Method A works by doing Method A things."
    assert context["methods"][1]["source_papers"] == ["paper-m2", "paper-m1"]
    assert [(p["slug"], p["via"]) for p in context["papers"]] == [
        ("paper-direct", "the page"),
        ("paper-idea", "idea [[idea-x]]"),
        ("paper-m1", "method [[method-a]]"),
        ("paper-m2", "method [[method-b]]"),
    ]
    assert "lr 0.01" in context["papers"][2]["method"]
    assert context["idea"]["slug"] == "idea-x"  # linked_idea written as a wikilink
    assert context["idea"]["hypothesis"] == "Method A generalises better than method B on small data."
    assert [s["slug"] for s in context["siblings"]] == ["earlier"]

    markdown = context_mod.render_markdown(context, [])
    assert "- [[method-b]] Method B" in markdown and "- [[paper-m2]] Paper-M2 (via method [[method-b]])" in markdown
    text = prompt.build("generate", EXPERIMENT, context, "dataset", "seeds: [0]\n")
    assert "### Method [[method-a]] Method A (evaluated by this experiment)" in text
    assert "### Paper [[paper-m1]] Paper-M1 (via method [[method-a]])" in text
    assert "Hypothesis: Method A generalises better" in text


def test_the_ideas_frontmatter_hypothesis_when_it_has_no_section(tmp_path):
    root = small_wiki(tmp_path, idea_extra='hypothesis: "From the frontmatter."\n')
    idea = root / "wiki" / "ideas" / "idea-x.md"
    idea.write_text(re.sub(r"## Hypothesis\n\n.*?\n\n", "", idea.read_text(), flags=re.S))
    context = context_mod.gather(lifecycle.find_experiment("ab-test", root), root)
    assert context["idea"]["hypothesis"] == "From the frontmatter."


def test_missing_method_and_paper_pages_are_simply_absent(tmp_path):
    root = small_wiki(tmp_path)
    (root / "wiki" / "methods" / "method-b.md").unlink()
    (root / "wiki" / "papers" / "paper-m1.md").unlink()
    context = context_mod.gather(lifecycle.find_experiment("ab-test", root), root)
    assert [m["slug"] for m in context["methods"]] == ["method-a"]
    assert [p["slug"] for p in context["papers"]] == ["paper-direct", "paper-idea"]


@pytest.mark.parametrize(
    "value, slugs",
    [
        ("[[a-b]]", ["a-b"]),
        ("a-b", ["a-b"]),
        ([["a"], ["b"]], ["a", "b"]),  # `source_papers: [[a], [b]]` as YAML reads it
        (["[[a]]", "b", "[[a]]"], ["a", "b"]),
        ("Some prose, not a slug", []),
        (None, []),
        (3, []),
    ],
)
def test_link_fields_as_the_wiki_writes_them(value, slugs):
    assert links.in_field(value) == slugs


def test_real_pages_reach_their_method_papers(corpus_pages, example_wiki):
    """Every corpus page that evaluates methods: with a method page per link (its source_papers a paper page) and
    its idea page, the context reads each method, its paper and the idea's `## Hypothesis`."""
    with_methods = [p for p in corpus_pages if re.search(r"^evaluates_methods:", p.read_text(), re.M)]
    assert with_methods, "the corpus holds pages with evaluates_methods"
    for source in with_methods:
        slug = source.stem.split("__")[-1].split("@")[0]
        target = example_wiki / "wiki" / "experiments" / f"{slug}.md"
        shutil.copyfile(source, target)
        page = lifecycle.find_experiment(slug, example_wiki)
        method_slugs = links.in_field(page.get("evaluates_methods"))
        wiki = example_wiki / "wiki"
        for folder in ("methods", "papers", "ideas"):
            (wiki / folder).mkdir(exist_ok=True)
        for method in method_slugs:
            (wiki / "methods" / f"{method}.md").write_text(
                METHOD.format(name=method, slug=method, papers=f"[[paper-of-{method}]]")
            )
            (wiki / "papers" / f"paper-of-{method}.md").write_text(PAPER.format(title=method, slug=method))
        idea = links.one(page.get("linked_idea"))
        (wiki / "ideas" / f"{idea}.md").write_text(IDEA.format(extra=""))

        context = context_mod.gather(page, example_wiki)

        assert source.read_bytes() == target.read_bytes()  # the copy is untouched, the corpus never edited
        assert [m["slug"] for m in context["methods"]] == method_slugs, source.name
        reached = {p["slug"]: p["via"] for p in context["papers"]}
        for method in method_slugs:
            assert reached[f"paper-of-{method}"] in (f"method [[{method}]]", "the page"), source.name
        assert context["idea"]["hypothesis"].startswith("Method A generalises"), source.name
        files, notes, gathered = generate.render(page, config.parse({}), example_wiki)
        assert [m["slug"] for m in gathered["methods"]] == method_slugs
        target.unlink()
