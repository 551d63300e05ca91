"""Slugs: one strict pattern before they reach paths and shells; the wiki's title-to-slug rule."""

from __future__ import annotations

import re

import pytest

from exprun.core.errors import SlugError
from exprun.core.slugs import MAX_SLUG_LENGTH, SLUG_PATTERN, slugify, validate_slug

GOOD = ["a", "x1", "digits-cnn-gpu", "007", "a-b-c-d", "mlp-64-vs-logreg", "a" * MAX_SLUG_LENGTH]

HOSTILE = [
    "../x",
    "x/../../etc",
    "/abs",
    "a b",
    "a;rm -rf",
    "a;rm -rf ~",
    "$(reboot)",
    "`id`",
    "a|b",
    "a&b",
    "A",
    "Digits-cnn",
    "a--b",
    "-a",
    "a-",
    "-",
    "",
    " ",
    "a_b",
    "a.b",
    "a.md",
    "ümlaut",
    "café",
    "ａｂｃ",  # full-width letters
    "١٢٣",  # Arabic-Indic digits
    "a\n",  # `$` alone would accept a trailing newline
    "a\nb",
    "\na",
    "a\x00",
    "a\t",
    "a" * (MAX_SLUG_LENGTH + 1),
]


@pytest.mark.parametrize("slug", GOOD)
def test_valid_slugs_are_returned_unchanged(slug):
    assert validate_slug(slug) == slug


@pytest.mark.parametrize("slug", HOSTILE, ids=[repr(s)[:30] for s in HOSTILE])
def test_hostile_slugs_are_rejected(slug):
    with pytest.raises(SlugError) as excinfo:
        validate_slug(slug)
    message = str(excinfo.value)
    assert "invalid slug" in message and SLUG_PATTERN.pattern in message
    assert "\n" not in message


@pytest.mark.parametrize("slug", [None, 5, b"abc", ["a"]])
def test_non_strings_are_rejected(slug):
    with pytest.raises(SlugError):
        validate_slug(slug)


def test_pattern_is_the_documented_one():
    assert SLUG_PATTERN.pattern == r"^[a-z0-9]+(-[a-z0-9]+)*$"


@pytest.mark.parametrize(
    "title,slug",
    [
        ("MLP vs logistic regression on sklearn digits", "mlp-vs-logistic-regression-sklearn-digits"),
        ("Small CNN on digits, on one GPU", "small-cnn-digits-one-gpu"),
        ("The Effect of Dropout on a Small MLP for MNIST digits", "effect-dropout-small-mlp-mnist-digits"),
        ("Sim Stage 0 — Harness, Locked Protocol, and Smooth-Regime Check", "sim-stage-harness-locked-protocol-smooth"),
        ("ResNet-50 @ 224px: top-1 (ImageNet) w/o aug", "resnet-50-224px-top-imagenet-aug"),
        ("A B C", "a-b-c"),  # nothing left after the rule: the wiki tool keeps every word
        ("the of and in to", "the-of-and-in-to"),
        ("", "untitled"),
        ("!!! ??? ...", "untitled"),
        ("ÉÀÜ", "untitled"),
        ("Naïve Bayes", "na-ve-bayes"),
        ("  lots   of   spaces  ", "lots-spaces"),
        ("UPPER lower MiXeD", "upper-lower-mixed"),
        ("one two three four five six seven eight", "one-two-three-four-five-six"),
        ("a an and are as at be by for from in into is it of on or the to vs via with without x", "into-vs-without"),
        ("2 GPUs vs 1 GPU", "gpus-vs-gpu"),
        # the two titles that used to differ from research_wiki.py slug
        ("What We Can Learn From This", "what-learn"),
        ("Training Into the Void vs Noise", "training-into-void-vs-noise"),
        ("v2 of 10 runs", "v2-10-runs"),
    ],
)
def test_slugify_rule(title, slug):
    assert slugify(title) == slug


@pytest.mark.parametrize(
    "title",
    ["Anything at all", "ΔpTernary ≈ 5× — γ", "a;rm -rf /", "../../etc/passwd", "Mixed: Case/Path\\Sep", "x" * 50],
)
def test_slugify_output_always_validates(title):
    assert validate_slug(slugify(title)) == slugify(title)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slugify(title))


def test_slugify_max_words():
    assert slugify("one two three four five six seven", max_words=3) == "one-two-three"
