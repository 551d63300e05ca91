"""Durations as a person reads them (core/durations): the unit that fits, never negative; and
`estimated_hours` as the wiki's schema types it (an integer, rounded up, at least 1)."""

from __future__ import annotations

import math

import pytest

from exprun.core.durations import hours_figure, human_duration, human_hours, page_hours

UNITS = [
    # seconds → text
    (0.2, "1 s"),
    (30, "30 s"),
    (44.6, "45 s"),
    (89, "89 s"),
    (90, "1.5 min"),
    (300, "5 min"),
    (719, "12 min"),
    (5399, "90 min"),
    (5400, "1.5 h"),
    (12_600, "3.5 h"),
    (36_000, "10 h"),
    (3 * 86_400, "72 h"),
]


@pytest.mark.parametrize("seconds,text", UNITS, ids=[t for _, t in UNITS])
def test_the_unit_that_fits(seconds, text):
    assert human_duration(seconds) == text
    assert human_hours(seconds / 3600) == text


@pytest.mark.parametrize("seconds", [0, -0.01 * 3600, -5, math.nan, -math.inf])
def test_never_negative(seconds):
    assert human_duration(seconds) == "0 s"


@pytest.mark.parametrize(
    "hours,on_page",
    [
        (90 / 3600, 1),
        (2760 / 3600, 1),
        (1.0, 1),
        (1.5, 2),
        (24.0, 24),
        (2.0000000001, 2),
        (130.2, 131),
        (0, 1),
        (-1, 1),
        (math.nan, 1),
    ],
)
def test_page_hours_is_the_wiki_schemas_integer_rounded_up(hours, on_page):
    value = page_hours(hours)
    assert value == on_page and type(value) is int


@pytest.mark.parametrize(
    "hours,figure",
    [(90 / 3600, 0.025), (2760 / 3600, 0.77), (1.5, 1.5), (24.0, 24), (130.2, 130), (0.0001, 0.0001), (-1, 0)],
)
def test_hours_figure_keeps_two_significant_figures(hours, figure):
    value = hours_figure(hours)
    assert value == figure and isinstance(value, (int, float)) and not isinstance(value, bool)
    assert type(value) is int if figure == int(figure) else type(value) is float
