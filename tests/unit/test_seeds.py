"""Seeds are distinct integers within a sane bound, checked in one place (config.yaml and the page's prose)."""

from __future__ import annotations

import pytest

from exprun.core.errors import ConfigError
from exprun.experiment import seeds
from exprun.prepare import contract
from exprun.prepare.codegen.spec import _seeds


@pytest.mark.parametrize(
    "given,phrase",
    [
        ([1, 1, 2], "seed 1 appears twice"),
        ([0, -1], "between 0 and"),
        ([0, 2**32], "between 0 and"),
        ([0, "1"], "whole numbers"),
        ([0, True], "whole numbers"),
        (list(range(seeds.MAX_SEEDS + 1)), f"at most {seeds.MAX_SEEDS}"),
        ([], "at least one"),
        ("0 1 2", "a list"),
    ],
)
def test_bad_seeds_are_one_line_naming_the_field(given, phrase):
    with pytest.raises(ConfigError, match=phrase) as caught:
        seeds.check(given, "experiments/code/x/config.yaml")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("experiments/code/x/config.yaml: seeds")


def test_good_seeds_pass_unchanged():
    assert seeds.check([0, 1, 2, 41], "config.yaml") == [0, 1, 2, 41]


def test_the_contract_check_names_a_repeated_seed():
    failed = [c for c in contract.config_checks({"seeds": [1, 1, 2], "metrics": ["accuracy"]}) if not c.ok]
    assert any("seed 1 appears twice" in c.detail for c in failed)


def test_a_huge_seed_range_on_the_page_is_refused_not_expanded():
    with pytest.raises(ConfigError, match="at most"):
        _seeds("Seeds: 0-100000000.", 3)
    assert _seeds("Seeds: 0-4.", 3) == [0, 1, 2, 3, 4]
    assert _seeds("Seeds: 0, 1, 2.", 3) == [0, 1, 2]
