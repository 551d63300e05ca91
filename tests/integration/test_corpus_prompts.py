"""Every real page of the corpus yields a generator prompt: context gathered, baseline and criteria read
or named as not readable, nothing crashes (the pages are copied; the corpus is never edited)."""

from __future__ import annotations

import shutil

from exprun.core import config
from exprun.prepare.codegen import context as context_mod
from exprun.prepare.codegen import generate, prompt
from exprun.wiki import lifecycle


def test_every_real_page_yields_a_prompt(corpus_page, example_wiki):
    slug = corpus_page.stem.split("__")[-1].split("@")[0]
    target = example_wiki / "wiki" / "experiments" / f"{slug}.md"
    shutil.copyfile(corpus_page, target)
    page = lifecycle.find_experiment(slug, example_wiki)

    files, notes, context = generate.render(page, config.parse({}), example_wiki)
    text = prompt.build(
        "generate", target.read_text(encoding="utf-8"), context, context["dataset_report"], files["config.yaml"]
    )

    assert corpus_page.read_bytes() == target.read_bytes()
    assert target.read_text(encoding="utf-8") in text or len(text) >= prompt.MAX_PROMPT_CHARS
    assert "## The run contract" in text and "## Dataset inspection" in text and context["dataset_report"]
    assert any("baseline" in n for n in notes), notes
    # the criteria: each sentence read is quoted at the gate (context.json), else a note says none was read
    assert context["criteria_read"] or any("success criteri" in n for n in notes), notes
    markdown = context_mod.render_markdown(context, notes)
    assert markdown.startswith(f"# Context for {page.slug}")
    assert len(text) <= prompt.MAX_PROMPT_CHARS + 100


def test_the_gate_says_what_the_built_in_recipe_could_not_map_on_a_real_page(corpus_pages, example_wiki):
    from exprun.gate import approval as gate

    source = next(p for p in corpus_pages if p.name.endswith("__ablation-deepternary-vs-protac-stan-scorer.md"))
    slug = "ablation-deepternary-vs-protac-stan-scorer"
    shutil.copyfile(source, example_wiki / "wiki" / "experiments" / f"{slug}.md")
    settings = config.parse({})
    generate.generate(slug, settings, example_wiki)
    text = gate.checklist(slug, settings, example_wiki, "headline")
    assert "“DeepTernary calibrated AUC from [[calibrated-deltapternary-phospho-protac-ranking]]" in text
    assert "whether the code runs it shows after the sanity run" in text  # judged from what the code does
    assert "is not implemented by the built-in recipe" in text and "baseline_results: {source:" in text
    assert "has no built-in recipe: write load_data()" in text
    assert "read from the page's prose: confirm" in text and "→ Δ ≥ 0.05 on roc_auc" in text
