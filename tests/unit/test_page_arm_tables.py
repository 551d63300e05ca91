"""Ablation matrices and sweeps written as Markdown tables (the common way to plan them) become the arms the
built-in recipes run — read like the `- Ablation:` / `- Sweep:` lines, shown at the gate, and what the
recipe cannot express is listed with what to write in config.yaml."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from exprun.experiment import arms
from exprun.prepare.codegen import page_arms
from exprun.prepare.codegen.spec import build_spec
from exprun.wiki.pages import parse_page

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "real-pages"
FRONT = (
    '---\ntitle: "t"\nslug: "t"\nstatus: planned\nsetup: {framework: sklearn, dataset: digits, hardware: cpu}\n'
    'metrics: [accuracy]\nbaseline: "logistic regression"\n---\n\n'
)


def spec_of(body: str):
    return build_spec(parse_page(FRONT + textwrap.dedent(body), Path("wiki/experiments/t.md")))


MATRIX = """\
    ## Setup

    The ablation matrix:

    | Arm | Role | Change |
    |-----|------|--------|
    | full | control | — |
    | **no-wd** | ablation | without weight decay (expect marginal) |
    | no-hidden | ablation | remove hidden layer |
    | no-dropout | ablation | without dropout |
    | logreg | baseline | logistic regression |
    | lr-high | sweep | learning rate = 0.01 |
    | wide | sweep | hidden units: 256 |
    | deep | sweep | 3 layers |
    | long | sweep | epochs = 40 |
    | big-batch | sweep | batch size = 256 |
    | adamw | sweep | optimizer = adamw |

    ## Results

    | FF | Training | Barrier |
    |----|----------|---------|
    | PhysNet | MP2 | 27.4 |
    """


def test_an_ablation_matrix_table_becomes_the_arms_the_recipe_runs():
    spec = spec_of(MATRIX)
    declared = {a["name"]: a for a in spec.config["arms"]}
    assert [a["name"] for a in spec.config["arms"]] == [
        "full", "no-wd", "no-hidden", "lr-high", "wide", "deep", "long", "big-batch",
    ]  # fmt: skip
    assert declared["full"]["role"] == "control" and declared["full"]["overrides"] == {}
    assert declared["no-wd"] == {
        "name": "no-wd",
        "role": "ablation",
        "factor": "weight decay",
        "overrides": {"hyperparameters": {"weight_decay": 0.0}},
        "expect": ["MARGINAL"],
    }
    assert declared["no-hidden"]["overrides"] == {"model": {"hidden_sizes": []}}
    assert declared["lr-high"]["overrides"] == {"hyperparameters": {"learning_rate": 0.01}}
    assert declared["wide"]["overrides"] == {"model": {"hidden_sizes": [256]}}
    assert declared["deep"]["overrides"] == {"model": {"hidden_sizes": [64, 64, 64]}}  # the recipe's width, 3 deep
    assert declared["long"]["overrides"] == {"hyperparameters": {"epochs": 40}}
    assert declared["big-batch"]["overrides"] == {"hyperparameters": {"batch_size": 256}}
    arms.of(spec.config)  # what the generator writes is valid config.yaml
    notes = "\n".join(spec.notes)
    assert "arm 'no-dropout' of the page's table: removing 'dropout' is not something the built-in recipe has" in notes
    assert "arm 'adamw' of the page's table: 'optimizer = adamw' is not a setting" in notes
    assert "`- {name: adamw, role: ablation|sweep, overrides: {...}}`" in notes
    assert "PhysNet" not in notes  # a results table is not an arm table


def test_roles_are_read_from_the_change_when_the_table_has_no_role_column():
    spec = spec_of("""\
        ## Procedure

        | Variant | What changes |
        |---|---|
        | baseline model | (none) |
        | no-l2 | w/o L2 |
        | lr 0.1 | lr = 0.1 |
        """)
    assert [(a["name"], a["role"]) for a in spec.config["arms"]] == [
        ("baseline-model", "control"),
        ("no-l2", "ablation"),
        ("lr-0.1", "sweep"),
    ]


def test_a_table_that_repeats_a_line_declared_arm_gives_it_once():
    spec = spec_of("""\
        ## Setup

        | arm | change |
        |---|---|
        | no-weight-decay | without weight decay |

        - Ablation: without weight decay
        """)
    assert [a["name"] for a in spec.config["arms"]] == ["full", "no-weight-decay"]


def test_a_page_without_arm_tables_stays_one_arm():
    spec = spec_of("## Setup\n\n| Setting | Value |\n|---|---|\n| epochs | 20 |\n")
    assert "arms" not in spec.config  # a settings table describes the method, it declares no arm
    assert not [n for n in spec.notes if "table" in n]


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.md")), ids=lambda p: p.name[:60])
def test_every_corpus_page_gives_valid_arms_or_none(path):
    page = parse_page(path.read_text(encoding="utf-8"), path, required=())
    notes: list[str] = []
    declared = page_arms.declared(page, 64, notes)
    arms.of({"arms": declared})  # never an arm the generator could not write
    assert all(isinstance(n, str) and n for n in notes)


def test_one_column_per_setting_and_rows_changing_several_settings():
    spec = spec_of("""\
        ## Setup

        | Arm | Role | hidden units | weight decay |
        |---|---|---|---|
        | base | control | — | — |
        | wide-no-wd | sweep | 256 | 0 |

        | Arm | Change |
        |---|---|
        | fast | lr = 0.01, epochs = 5 |
        """)
    declared = {a["name"]: a for a in spec.config["arms"]}
    assert declared["base"]["role"] == "control" and declared["base"]["overrides"] == {}
    assert declared["wide-no-wd"]["overrides"] == {
        "model": {"hidden_sizes": [256]},
        "hyperparameters": {"weight_decay": 0},
    }
    assert declared["fast"]["overrides"] == {"hyperparameters": {"learning_rate": 0.01, "epochs": 5}}


def test_a_table_of_arms_exprun_cannot_read_is_said_once():
    spec = spec_of("""\
        ## Procedure

        | Variant | Description |
        |---|---|
        | B1 | pool nearest neighbour |
        | B2 | deterministic regression |
        """)
    assert "arms" not in spec.config
    (note,) = [n for n in spec.notes if "names arms" in n]
    assert "(B1, B2)" in note and "config.yaml `arms`" in note
