"""Code for any research page: what the generator's prompt and the run contract cost.

1. Gathering the context and building the prompt of one page in a wiki of 1,000 experiment pages
   (5 on the same idea, the rest on other ideas) against a wiki where it is alone. Target: ≤ +0.1 s.
   Finding the siblings must look at every page, so the cost grows with the wiki; the target is on the
   absolute cost (a ratio against a 7 ms reference would only measure reading 1,000 files): the pages
   on other ideas are skipped from one frontmatter line, never parsed.
2. The sanity step of the built-in demo recipe: the run contract's checks (files, config.yaml, the
   flags from `run.sh --help`) against the sanity run itself (run.sh at sanity scale + result schema).
   Target: the check adds ≤ 1.0 s.
"""

from __future__ import annotations

import time

from common import TAG, Result, best, copy_wiki, header, interleaved, report, temp_dir, write_pages

PAGES = 1000
SAME_IDEA = 5
REPEAT = 5


def run() -> list[Result]:
    from exprun.core import config
    from exprun.prepare import contract, sanity
    from exprun.prepare.codegen import generate, prompt
    from exprun.wiki import lifecycle

    results = []
    settings = config.parse({})
    header(f"codegen: context + prompt of one page among {PAGES} vs alone")
    with temp_dir("codegen") as tmp:
        big, one = tmp / "big", tmp / "one"
        for root, count in ((big, PAGES), (one, 1)):
            copy_wiki(root, keep_examples=False)
            slugs = [f"{TAG}-cg-{i:04d}" for i in range(count)]
            write_pages(root, slugs, lambda i, s: {} if i < SAME_IDEA else {"linked_idea": f"other-idea-{i % 50}"})
        target = f"{TAG}-cg-0000"

        def build(root):
            def go() -> None:
                page = lifecycle.find_experiment(target, root)
                files, _, context = generate.render(page, settings, root)
                prompt.build(
                    "generate", page.path.read_text(), context, context["dataset_report"], files["config.yaml"]
                )

            return go

        a, b = interleaved(build(big), build(one), repeat=REPEAT)
        results.append(
            report(
                Result(
                    f"prompt, 1 page among {PAGES} vs alone",
                    best(a),
                    best(b),
                    kind="diff",
                    target=0.1,
                    a_label=f"{PAGES} pages",
                    b_label="1 page",
                ),
                a,
                b,
            )
        )

    header("codegen: the run-contract check vs the sanity run of the demo recipe")
    with temp_dir("codegen-sanity") as tmp:
        root = copy_wiki(tmp / "wiki", keep_examples=True)
        slug = "digits-mlp-vs-logreg"
        generate.generate(slug, settings, root)
        checks, runs = [], []
        for _ in range(3):
            found = contract.folder_checks(slug, root, settings)
            assert found.ok, found.problems()
            started = time.perf_counter()
            contract.folder_checks(slug, root, settings)
            checks.append(time.perf_counter() - started)
            started = time.perf_counter()
            sanity.run_sanity(slug, settings, root)
            runs.append(time.perf_counter() - started - checks[-1])  # run_sanity includes one check
        results.append(
            report(
                Result(
                    "contract check added to the sanity step",
                    best(checks) + best(runs),
                    best(runs),
                    kind="diff",
                    target=1.0,
                    a_label="sanity with the check",
                    b_label="sanity run alone",
                ),
                None,
                None,
            )
        )
    return results
