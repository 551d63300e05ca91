"""Surgical frontmatter edits: only the edited value changes, every other byte stays."""

from __future__ import annotations

import copy
import difflib
import math
from datetime import date, datetime

import pytest
import yaml

from exprun.core import yamlemit
from exprun.core.errors import PageError
from exprun.wiki import yamledit

# A hand-written page meant to trip a naive editor: comments on every field (and
# whole-line ones), a folded block scalar, quotes, colons, '#', unicode, flow lists
# whose items contain commas, a nested mapping, unknown fields, a body.
HOSTILE = """\
---
# Experiment page written by hand — keep these comments
title: "Dropout: does it help? # not a comment"   # title comment
slug: hostile-page        # slug comment
status: planned            # planned | running | completed | abandoned
linked_idea: 'it''s "quoted": yes'  # single-quoted, both quotes
hypothesis: >   # folded block scalar
  A folded hypothesis: with a colon # and a hash,
  spanning "two" lines — ≈ 5× faster.
tags: [a, "b, c", 'd, e']   # flow list, commas inside quotes
metrics: ["acc: top-1", macro F1]  # colon inside a flow item
setup:                     # nested block
  model: "MLP, 64 units"   # model comment
  hardware: cpu            # hardware comment
outcome: ""                # succeeded | failed | inconclusive
key_result: ""             # one sentence
date_planned: 2026-11-20   # plain date
run_log: ''                # empty single-quoted
estimated_hours: 3         # int
custom_unknown: {x: 1, y: [1, 2]}   # unknown field, flow mapping
remote:                    # remote block
  server: ""               # host name
  gpu: ''                  # gpu ids
  session: none            # plain
  # whole-line comment inside remote
# trailing whole-line comment
---

## Objective

Body with `key: value # not yaml` and a --- rule below.

---

## Results
"""

COMMENTS = [
    "# Experiment page written by hand — keep these comments",
    "# title comment",
    "# slug comment",
    "# planned | running | completed | abandoned",
    "# single-quoted, both quotes",
    "# folded block scalar",
    "# flow list, commas inside quotes",
    "# colon inside a flow item",
    "# nested block",
    "# model comment",
    "# hardware comment",
    "# succeeded | failed | inconclusive",
    "# one sentence",
    "# plain date",
    "# empty single-quoted",
    "# int",
    "# unknown field, flow mapping",
    "# remote block",
    "# host name",
    "# gpu ids",
    "# plain",
    "# whole-line comment inside remote",
    "# trailing whole-line comment",
]

# Fields on one line each, with a new value of a fitting kind.
SINGLE_LINE_EDITS = [
    ("title", "New: title # with hash"),
    ("slug", "renamed-page"),
    ("status", "running"),
    ("linked_idea", "other-idea"),
    ("tags", ["x", "y, z"]),
    ("metrics", ["accuracy"]),
    ("setup.model", 'CNN "small": 3x3'),
    ("setup.hardware", "gpu"),
    ("outcome", "succeeded"),
    ("key_result", "Accuracy 0.97: +1.2 pts # over baseline"),
    ("date_planned", date(2026, 12, 1)),
    ("run_log", "logs/exp-hostile.log"),
    ("estimated_hours", 12),
    ("remote.server", "gpu-box.lab: 22"),
    ("remote.gpu", "0,1"),
    ("remote.session", "exp-hostile-page"),
]


def same(left, right) -> bool:
    """Equality where NaN equals NaN and types must match (1 is not True, '5' is not 5)."""
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left) and math.isnan(right):
        return True
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=False))
    return type(left) is type(right) and left == right


# PyYAML's libyaml-backed safe loader when built (10x faster), else the pure-Python one.
FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def meta_of(text: str) -> dict:
    """Frontmatter as data, parsed independently of exprun with PyYAML."""
    lines = text.split("\n")
    assert lines[0].rstrip("\r") == "---"
    end = next(i for i in range(1, len(lines)) if lines[i].rstrip("\r") == "---")
    return yaml.load("\n".join(lines[1:end]), Loader=FAST_LOADER)


def get(data: dict, dotted: str):
    for key in dotted.split("."):
        data = data[key]
    return data


def without(data: dict, dotted: str) -> dict:
    """Deep copy of data with the dotted field removed."""
    data = copy.deepcopy(data)
    *parents, leaf = dotted.split(".")
    holder = data
    for key in parents:
        holder = holder[key]
    del holder[leaf]
    return data


def changed_line_blocks(old: str, new: str) -> list[tuple[list[str], list[str]]]:
    """(old lines, new lines) of every block difflib reports as changed (endings kept)."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    return [(a[i1:i2], b[j1:j2]) for op, i1, i2, j1, j2 in matcher.get_opcodes() if op != "equal"]


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


@pytest.fixture(params=["lf", "crlf"])
def hostile(request) -> str:
    return HOSTILE if request.param == "lf" else crlf(HOSTILE)


def line_of(text: str, prefix: str) -> str:
    return next(line for line in text.splitlines(keepends=True) if line.lstrip(" ").startswith(prefix))


# --------------------------------------------------------------------------- the page itself


def test_hostile_page_is_valid_yaml_to_start_with():
    meta = meta_of(HOSTILE)
    assert meta["title"] == "Dropout: does it help? # not a comment"
    assert meta["linked_idea"] == 'it\'s "quoted": yes'
    assert meta["tags"] == ["a", "b, c", "d, e"]
    assert meta["hypothesis"].startswith("A folded hypothesis: with a colon # and a hash,")
    assert meta["remote"] == {"server": "", "gpu": "", "session": "none"}


# --------------------------------------------------------------------------- surgical edits


@pytest.mark.parametrize("field,value", SINGLE_LINE_EDITS, ids=[f for f, _ in SINGLE_LINE_EDITS])
def test_edit_changes_only_the_edited_line(hostile, field, value):
    new, old = yamledit.set_value(hostile, field, value)

    before, after = meta_of(hostile), meta_of(new)
    assert same(old, get(before, field))
    assert same(get(after, field), value)
    assert same(without(after, field), without(before, field)), "another field changed"

    blocks = changed_line_blocks(hostile, new)
    assert len(blocks) == 1, blocks
    ((old_lines, new_lines),) = blocks
    assert len(old_lines) == 1 and len(new_lines) == 1
    leaf = field.rsplit(".", 1)[-1]
    assert old_lines[0].lstrip().startswith(f"{leaf}:")
    # the edited line keeps its indentation, key and its own comment
    assert new_lines[0].startswith(old_lines[0][: old_lines[0].index(":") + 1])
    comment = old_lines[0][old_lines[0].index("  #") :].strip()
    assert new_lines[0].rstrip("\r\n").endswith(comment)

    for text in COMMENTS:
        assert new.count(text) == hostile.count(text), f"comment lost: {text}"
    assert new.split("\n---", 2)[-1] == hostile.split("\n---", 2)[-1], "body changed"


def test_edit_keeps_crlf_line_endings():
    page = crlf(HOSTILE)
    for field, value in SINGLE_LINE_EDITS:
        page, _ = yamledit.set_value(page, field, value)
    assert "\n" not in page.replace("\r\n", ""), "a bare LF appeared in a CRLF page"
    assert page.count("\r\n") == HOSTILE.count("\n")
    meta = meta_of(page)
    for field, value in SINGLE_LINE_EDITS:
        assert same(get(meta, field), value)


def test_top_level_edit_in_place_keeps_comment_column():
    new, old = yamledit.set_value(HOSTILE, "status", "running")
    assert old == "planned"
    assert "status: running            # planned | running | completed | abandoned\n" in new
    assert new == HOSTILE.replace("status: planned   ", "status: running   ", 1)


def test_nested_edit_in_place():
    new, old = yamledit.set_value(HOSTILE, "remote.server", "gpu-01")
    assert old == ""
    assert new == HOSTILE.replace('  server: ""               # host name', '  server: "gpu-01"         # host name')
    assert meta_of(new)["remote"]["server"] == "gpu-01"


def test_quoting_style_of_edited_value_is_kept():
    new, _ = yamledit.set_value(HOSTILE, "run_log", "it's.log")
    assert line_of(new, "run_log:").startswith("run_log: 'it''s.log'")
    new, _ = yamledit.set_value(HOSTILE, "key_result", "plain words")
    assert line_of(new, "key_result:").startswith('key_result: "plain words"')
    new, _ = yamledit.set_value(HOSTILE, "remote.session", "sess-1")
    assert line_of(new, "session:").startswith("  session: sess-1 ")


def test_long_value_pushes_comment_but_keeps_it():
    value = "x" * 80
    new, _ = yamledit.set_value(HOSTILE, "status", value)
    assert line_of(new, "status:") == f"status: {value} # planned | running | completed | abandoned\n"


def test_repeated_edits_round_trip_to_the_original_bytes():
    page = HOSTILE
    for field, value in SINGLE_LINE_EDITS:
        page, _ = yamledit.set_value(page, field, value)
    for field, _ in SINGLE_LINE_EDITS:
        page, _ = yamledit.set_value(page, field, get(meta_of(HOSTILE), field))
    assert meta_of(page) == meta_of(HOSTILE)
    for text in COMMENTS:
        assert text in page


def test_block_scalar_is_kept_when_editing_other_fields(hostile):
    new, _ = yamledit.set_value(hostile, "tags", ["only"])
    block = hostile[hostile.index("hypothesis: >") : hostile.index("tags:")]
    assert block in new
    assert meta_of(new)["hypothesis"] == meta_of(hostile)["hypothesis"]


def test_block_scalar_itself_can_be_replaced(hostile):
    new, old = yamledit.set_value(hostile, "hypothesis", 'Short: "new" # hypothesis')
    assert old == meta_of(hostile)["hypothesis"]
    after, before = meta_of(new), meta_of(hostile)
    assert after["hypothesis"] == 'Short: "new" # hypothesis'
    assert same(without(after, "hypothesis"), without(before, "hypothesis"))
    ((old_lines, new_lines),) = changed_line_blocks(hostile, new)
    assert len(old_lines) == 3 and len(new_lines) == 1  # the 2 continuation lines went with the value
    assert "# folded block scalar" in new_lines[0]
    for text in COMMENTS:
        assert text in new


def test_editing_field_after_a_block_list_and_list_of_mappings():
    page = (
        "---\n"
        "title: t\n"
        "status: planned\n"
        "metrics:\n"
        "  - accuracy   # primary\n"
        '  - "macro F1"\n'
        "success_criteria:          # machine-readable\n"
        "  - {metric: accuracy, vs: baseline, min_delta: 0.005}\n"
        "reproducibility:\n"
        "  dataset_versions:\n"
        "    - name: digits\n"
        '      version: "1.0"  # pinned\n'
        "  seeds: [0, 1, 2]\n"
        'outcome: ""\n'
        "---\n"
    )
    for field, value in [("outcome", "failed"), ("reproducibility.seeds", [3]), ("status", "running")]:
        new, _ = yamledit.set_value(page, field, value)
        assert get(meta_of(new), field) == value
        assert same(without(meta_of(new), field), without(meta_of(page), field))
        ((old_lines, new_lines),) = changed_line_blocks(page, new)
        assert len(old_lines) == len(new_lines) == 1


def test_unknown_fields_and_key_order_are_kept(hostile):
    new, _ = yamledit.set_value(hostile, "outcome", "failed")
    assert list(meta_of(new)) == list(meta_of(hostile))
    assert line_of(new, "custom_unknown:") == line_of(hostile, "custom_unknown:")


# --------------------------------------------------------------------------- refusals


def test_missing_field_is_refused_without_create(hostile):
    with pytest.raises(PageError, match="'nonexistent' does not exist"):
        yamledit.set_value(hostile, "nonexistent", "x")
    with pytest.raises(PageError, match="'remote.port' does not exist"):
        yamledit.set_value(hostile, "remote.port", 22)


def test_missing_field_is_added_with_create(hostile):
    new, old = yamledit.set_value(hostile, "started", "2026-11-25T10:00", create=True)
    assert old is None
    after = meta_of(new)
    assert after["started"] == "2026-11-25T10:00"
    assert same(without(after, "started"), meta_of(hostile))
    ((old_lines, new_lines),) = changed_line_blocks(hostile, new)
    assert old_lines == [] and len(new_lines) == 1
    if "\r\n" in hostile:
        assert "\n" not in new.replace("\r\n", "")


def test_missing_nested_field_is_added_inside_its_block(hostile):
    new, _ = yamledit.set_value(hostile, "remote.port", 2222, create=True)
    after = meta_of(new)
    assert after["remote"] == {"server": "", "gpu": "", "session": "none", "port": 2222}
    ((old_lines, new_lines),) = changed_line_blocks(hostile, new)
    assert old_lines == [] and new_lines[0].startswith("  port: 2222")


def test_nested_field_without_its_parent_block_is_refused():
    page = "---\ntitle: t\nstatus: planned  # no remote block here\nrun_log: ''\n---\nbody\n"
    with pytest.raises(PageError) as excinfo:
        yamledit.set_value(page, "remote.server", "gpu-01", where="wiki/experiments/x.md")
    message = str(excinfo.value)
    assert "'remote'" in message and "remote.server" in message
    assert message.startswith("wiki/experiments/x.md")
    with pytest.raises(PageError, match="'remote'"):
        yamledit.set_value(page, "remote.server", "gpu-01", create=True)


def test_setting_a_whole_mapping_is_refused(hostile):
    with pytest.raises(PageError, match="is a mapping"):
        yamledit.set_value(hostile, "remote", "gpu-01")


def test_sub_field_of_a_scalar_is_refused(hostile):
    with pytest.raises(PageError, match="'status' is not a mapping"):
        yamledit.set_value(hostile, "status.sub", "x", create=True)


# --------------------------------------------------------------------------- hostile values

HOSTILE_VALUES = [
    'say "hi"',
    "it's",
    "both ' and \"",
    "key: value",
    "ends with colon:",
    "a #hash",
    "#starts with hash",
    " leading space",
    "trailing space ",
    "line1\nline2",
    "trailing newline\n",
    "tab\there",
    "back\\slash \\n",
    "ΔpTernary ≈ 5× — γ Å ±",
    "emoji 🎉",
    "no",
    "yes",
    "No",
    "off",
    "on",
    "y",
    "true",
    "null",
    "~",
    "",
    "007",
    "0x1F",
    "1_000",
    "1e3",
    "3.0",
    ".nan",
    "2026-11-25",
    "2026-11-25T10:00",
    "[not, a, list]",
    "{not: a map}",
    "- dash",
    "- ",
    "? question",
    "@at",
    "`tick`",
    "*alias",
    "&anchor",
    "!tag",
    "%percent",
    "|",
    ">",
    "---",
    "...",
    "[[wikilink]]",
    "a\x00nul",
    "ctrl \x1b[0m",
    "del \x7f char",
    "c1 \x85 nel",
    "line \u2028 separator",
    "\ufeffbom",
    0,
    5,
    -42,
    10**30,
    0.5,
    -0.0,
    3.14,
    1e-05,
    2.5e-07,
    1e16,
    1e300,
    float("inf"),
    float("-inf"),
    float("nan"),
    True,
    False,
    None,
    date(2026, 11, 25),
    datetime(2026, 11, 25, 10, 30, 5),
    ["a", "b, c", "it's", 1, None],
    [],
]

# Targets: plain value with comment, double-quoted with comment, single-quoted with
# comment, nested empty value with comment, a block scalar, a field that is created.
TARGETS = ["status", "title", "linked_idea", "remote.server", "hypothesis", "brand_new"]
HOSTILE_BEFORE = meta_of(HOSTILE)
VALUE_IDS = [repr(v)[:40] for v in HOSTILE_VALUES]


def check_hostile_value(page: str, target: str, value) -> str:
    new, _ = yamledit.set_value(page, target, value, create=target == "brand_new")
    after = meta_of(new)
    assert same(get(after, target), value), (repr(value), line_of(new, target.rsplit(".", 1)[-1] + ":"))
    if target == "brand_new":
        assert same(without(after, target), HOSTILE_BEFORE)
    else:
        assert same(without(after, target), without(HOSTILE_BEFORE, target))
        if target != "hypothesis" and new != page:
            blocks = changed_line_blocks(page, new)
            assert len(blocks) == 1 and len(blocks[0][0]) == len(blocks[0][1]) == 1, blocks
    for text in COMMENTS:
        assert text in new
    return new


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=VALUE_IDS)
def test_hostile_value_reads_back_equal(target, value):
    check_hostile_value(HOSTILE, target, value)


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=VALUE_IDS)
def test_hostile_value_on_crlf_page_keeps_crlf(value):
    new = check_hostile_value(crlf(HOSTILE), "remote.server", value)
    assert "\n" not in new.replace("\r\n", "")
    # the page stays editable: a second edit on it is still surgical
    again, _ = yamledit.set_value(new, "status", "running")
    assert meta_of(again)["status"] == "running"
    assert len(changed_line_blocks(new, again)) == 1


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=[repr(v)[:40] for v in HOSTILE_VALUES])
@pytest.mark.parametrize("style", ["plain", "single", "double"])
def test_emit_scalar_is_valid_yaml(value, style):
    emitted = yamlemit.emit_scalar(value, style)
    assert "\n" not in emitted and "\r" not in emitted
    assert same(yaml.safe_load(f"k: {emitted}  # comment")["k"], value)
    assert same(yaml.safe_load(f"k: [{emitted}]")["k"], [value])


# --------------------------------------------------------------------------- append


def test_append_to_flow_list_keeps_the_rest(hostile):
    new, old = yamledit.append_item(hostile, "tags", "f, g")
    assert old == ["a", "b, c", "d, e"]
    assert meta_of(new)["tags"] == ["a", "b, c", "d, e", "f, g"]
    ((old_lines, new_lines),) = changed_line_blocks(hostile, new)
    assert new_lines[0].startswith("""tags: [a, "b, c", 'd, e', "f, g"]""")
    assert "# flow list, commas inside quotes" in new_lines[0]


def test_append_to_block_list_adds_one_line():
    page = (
        "---\r\ntitle: t\r\nstatus: planned\r\nmetrics:\r\n  - accuracy  # primary\r\n  - f1\r\nbaseline: x\r\n---\r\n"
    )
    new, old = yamledit.append_item(page, "metrics", "top-5: acc")
    assert old == ["accuracy", "f1"]
    assert meta_of(new)["metrics"] == ["accuracy", "f1", "top-5: acc"]
    ((old_lines, new_lines),) = changed_line_blocks(page, new)
    assert old_lines == [] and new_lines == ['  - "top-5: acc"\r\n']


def test_append_to_empty_flow_list():
    page = "---\ntitle: t\nstatus: planned\ntags: []   # none yet\n---\n"
    new, _ = yamledit.append_item(page, "tags", "first")
    assert "tags: [first]   # none yet\n" in new


def test_append_refuses_non_lists(hostile):
    with pytest.raises(PageError, match="list"):
        yamledit.append_item(hostile, "status", "x")
    with pytest.raises(PageError, match="does not exist"):
        yamledit.append_item(hostile, "nope", "x")


# --------------------------------------------------------------------------- frontmatter split


def test_bom_is_kept():
    page = "\ufeff---\ntitle: t\nstatus: planned\n---\nbody\n"
    new, _ = yamledit.set_value(page, "status", "running")
    assert new == page.replace("planned", "running")


def test_dots_close_frontmatter_too():
    page = "---\ntitle: t\nstatus: planned\n...\nbody\n"
    new, _ = yamledit.set_value(page, "status", "running")
    assert new == page.replace("planned", "running")


def test_failed_verification_leaves_text_untouched_and_says_why():
    # a duplicate key: the editor sees the first, YAML would keep the last -> refuse, naming both lines
    page = "---\ntitle: t\nstatus: planned\nstatus: running\n---\n"
    with pytest.raises(PageError, match=r"page:4: .*key 'status' is given twice \(first on line 3\)"):
        yamledit.set_value(page, "status", "completed")


BILLION_LAUGHS = (
    "---\ntitle: t\nstatus: planned\n"
    + "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9) if i else 'lol'}]\n" for i in range(10))
    + "---\n"
)


def test_anchors_and_aliases_are_refused_in_one_line_with_bounded_memory(tmp_path):
    """Attack: a 2 KB page whose nested aliases stand for 9**9 values; reading it must be a one-line refusal,
    under a 512 MiB address-space limit (it took all memory when anything walked the values)."""
    import subprocess
    import sys

    assert len(BILLION_LAUGHS) < 2048
    page = tmp_path / "x.md"
    page.write_text(BILLION_LAUGHS)
    code = (
        "import resource, sys, json\n"
        "resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))\n"
        "from exprun.wiki import pages\n"
        "from exprun.core.errors import PageError\n"
        "try:\n    page = pages.load_page(sys.argv[1]); print(len(json.dumps(page.meta)))\n"
        "except PageError as exc:\n    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(page)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.strip()
        == f"{page}:4: invalid YAML in frontmatter: anchors and aliases (&l0) are not allowed: write the value out"
    )


def test_a_key_given_twice_in_config_yaml_is_refused(tmp_path):
    from exprun.core.errors import ConfigError
    from exprun.experiment.experiment_config import read_config_file

    path = tmp_path / "config.yaml"
    path.write_text("seeds: [0, 1]\nhyperparameters:\n  learning_rate: 0.1\n  learning_rate: 10\n")
    with pytest.raises(
        ConfigError, match=r"config.yaml:4: invalid YAML: key 'learning_rate' is given twice \(first on line 3\)"
    ):
        read_config_file(path, "x")


def test_crlf_page_with_bare_block_keys():
    """`remote:` / `setup:` / `metrics:` with nothing after the colon, on a CRLF page."""
    page = crlf(
        "---\n"
        "title: t\n"
        "status: planned\n"
        "setup:\n"
        "  hardware: cpu\n"
        "metrics:\n"
        "  - accuracy\n"
        "remote:\n"
        '  server: ""\n'
        "---\n"
        "body\n"
    )
    new, _ = yamledit.set_value(page, "remote.server", "gpu-01")
    assert new == page.replace('server: ""', 'server: "gpu-01"')
    new, _ = yamledit.set_value(new, "setup.hardware", "gpu")
    assert meta_of(new)["setup"] == {"hardware": "gpu"}
    new, _ = yamledit.append_item(new, "metrics", "f1")
    assert meta_of(new)["metrics"] == ["accuracy", "f1"]
    new, _ = yamledit.set_value(new, "remote.gpu", "0", create=True)
    assert meta_of(new)["remote"] == {"server": "gpu-01", "gpu": "0"}
    assert "\n" not in new.replace("\r\n", "")


def test_float_with_exponent_is_written_as_a_yaml_float():
    page = "---\ntitle: t\nstatus: planned\nlr: 0.1   # learning rate\n---\n"
    new, old = yamledit.set_value(page, "lr", 1e-05)
    assert old == 0.1
    assert meta_of(new)["lr"] == 1e-05 and isinstance(meta_of(new)["lr"], float)
    assert "lr: 1.0e-05 # learning rate\n" in new


# --------------------------------------------------------------------------- mappings: block style

CRITERIA = [
    {"metric": "accuracy", "vs": "baseline", "min_delta": 0.005},
    {"metric": "log loss: val", "threshold": 0.3, "note": 'it\'s "quoted" # not a comment'},
]


@pytest.mark.parametrize(
    "line", ["success_criteria: []   # filled by /exp-design", "success_criteria: ''", "success_criteria:  # none"]
)
def test_a_list_of_mappings_is_written_in_block_style_and_the_comment_kept_above(line):
    """The wiki's own set-meta reads `[{...}]` as text split at commas: exprun never writes a flow mapping."""
    page = f"---\ntitle: t\nstatus: planned\n{line}\noutcome: ''\n---\nbody\n"
    new, _ = yamledit.set_value(page, "success_criteria", CRITERIA)
    assert meta_of(new)["success_criteria"] == CRITERIA
    assert without(meta_of(new), "success_criteria") == without(meta_of(page), "success_criteria")
    frontmatter = new.split("\n---\n")[0]
    assert "{" not in frontmatter and "success_criteria:\n  - metric: accuracy\n    vs: baseline\n" in frontmatter
    comment = line.partition("#")[2]
    if comment:
        assert f"\n#{comment}\nsuccess_criteria:\n" in new, "the comment moves to its own line, above the field"


def test_a_mapping_replaces_a_block_list_and_keeps_crlf():
    page = crlf("---\ntitle: t\nstatus: planned\nbudget:\n- 1\n- 2\nrun_log: ''\n---\nbody\n")
    new, old = yamledit.set_value(page, "budget", {"gpu_hours": 4, "by": {"a100": 2, "cpu": [1, 2]}})
    assert old == [1, 2]
    assert meta_of(new)["budget"] == {"gpu_hours": 4, "by": {"a100": 2, "cpu": [1, 2]}}
    assert "\n" not in new.replace("\r\n", "")
    assert "budget:\r\n  gpu_hours: 4\r\n  by:\r\n    a100: 2\r\n    cpu: [1, 2]\r\nrun_log: ''\r\n" in new


def test_a_created_mapping_goes_in_block_style_at_its_place(hostile):
    new, _ = yamledit.set_value(hostile, "estimated_cost", {"gpu_hours": 4, "note": "one A100: a day"}, create=True)
    assert meta_of(new)["estimated_cost"] == {"gpu_hours": 4, "note": "one A100: a day"}
    assert 'estimated_cost:\n  gpu_hours: 4\n  note: "one A100: a day"\n---\n' in new.replace("\r\n", "\n")
    nested, _ = yamledit.set_value(hostile, "remote.extra", [{"host": "a", "gpus": [0, 1]}], create=True)
    assert meta_of(nested)["remote"]["extra"] == [{"host": "a", "gpus": [0, 1]}]
    assert "  extra:\n    - host: a\n      gpus: [0, 1]\n" in nested.replace("\r\n", "\n")


@pytest.mark.parametrize("value", [v for v in HOSTILE_VALUES if isinstance(v, (str, int, float, bool))], ids=repr)
def test_block_values_read_back_equal(value):
    data = {"k": value, "nested": {"list": [value, {"deep": value}]}}
    text = "\n".join(["x:", *yamlemit.emit_block(data, 2)]) + "\n"
    assert same(yaml.safe_load(text)["x"], data)
