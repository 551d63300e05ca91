"""The bundled example wiki is a faithful research wiki: its pages pass the wiki's own lint as its tools read them."""

from __future__ import annotations

from exprun.wiki import lifecycle
from wiki_lint import literal_fields, problems, wiki_problems


def test_the_example_wiki_passes_the_wiki_s_lint(example_wiki):
    assert wiki_problems(example_wiki) == []


def test_the_checker_reads_a_trailing_comment_as_the_wiki_does(tmp_path):
    page = tmp_path / "experiments" / "x.md"
    page.parent.mkdir()
    page.write_text(
        '---\ntitle: "t"\nslug: "x"\nstatus: planned   # planned | running\nlinked_idea: "i"\n'
        'hypothesis: "h"\ntags: [a]\noutcome: ""\n---\n'
    )
    assert literal_fields(page.read_text())["status"] == "planned   # planned | running"
    assert problems(page) == [
        "x.md: status is 'planned   # planned | running' as the wiki reads it (allowed: "
        "['abandoned', 'completed', 'planned', 'running'])"
    ]


def test_pages_exprun_moves_along_the_lifecycle_stay_lint_clean(example_wiki):
    page = example_wiki / "wiki" / "experiments" / "digits-mlp-vs-logreg.md"
    lifecycle.transition(page, lifecycle.RUNNING, {"run_log": "logs/exp-digits-mlp-vs-logreg.log"})
    lifecycle.transition(page, lifecycle.COMPLETED, {"outcome": "inconclusive", "key_result": "acc 0.97 ± 0.01: no"})
    assert problems(page) == []
