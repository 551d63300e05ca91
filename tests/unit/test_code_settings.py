"""Which settings shape the generated code: the generate step's params hold those and no other, so Snakemake's
default rerun triggers regenerate the code for them and never for where the run goes or how collect polls."""

from __future__ import annotations

import copy
from collections.abc import Iterator

from exprun.core.settings import Settings, from_dict
from exprun.prepare.codegen import generate
from exprun.prepare.codegen.shaping import CODE_SHAPING, code_settings
from exprun.wiki import lifecycle

SLUG = "digits-mlp-vs-logreg"
# codegen settings that change how a generator is run, never what it is asked for or which one it is
NOT_SHAPING_CODEGEN = {
    ("codegen", "timeout_s"),
    ("codegen", "max_files"),  # a limit: an answer over it is refused whole, nothing is written
    ("codegen", "max_bytes"),
    ("codegen", "llm", "api_key_env"),  # the variable's name, not the key
    ("codegen", "llm", "timeout_s"),
}


def leaves(data: dict, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in data.items():
        if isinstance(value, dict):
            yield from leaves(value, (*path, key))
        else:
            yield (*path, key)


def changed(data: dict, path: tuple[str, ...]) -> dict:
    """The settings with one value changed (still valid against the schema)."""
    data = copy.deepcopy(data)
    node = data
    for key in path[:-1]:
        node = node[key]
    value = node[path[-1]]
    if isinstance(value, bool):
        node[path[-1]] = not value
    elif isinstance(value, (int, float)):
        node[path[-1]] = value + 2
    elif path == ("notify",):
        node[path[-1]] = [{"url": "json://127.0.0.1:9/hook", "events": ["ended"]}]
    elif isinstance(value, list):
        node[path[-1]] = ["my-agent", "{prompt}"]
    elif path[-1] == "env":
        node[path[-1]] = "remote" if value != "remote" else "local"
    elif path[-1] == "full_via":
        node[path[-1]] = "jobs"
    elif path[-1] == "submit":
        node[path[-1]] = "ssh"
    else:
        node[path[-1]] = f"{value}-other" if value else "/opt/other/bin/python3"
    return data


def test_the_code_shaping_settings_are_exactly_those_that_change_the_code(example_wiki):
    page = lifecycle.find_experiment(SLUG, example_wiki)
    base = Settings().as_dict()
    files, _, _ = generate.render(page, Settings(), example_wiki)
    for path in leaves(base):
        other = from_dict(changed(base, path))
        rendered, _, _ = generate.render(page, other, example_wiki)
        if rendered != files:
            assert path in CODE_SHAPING, f"{'.'.join(path)} changes the built-in recipe's files: add it to CODE_SHAPING"
        if path[0] == "codegen":  # who writes the code, and what it is asked: a decision for every codegen key
            assert (path in CODE_SHAPING) != (path in NOT_SHAPING_CODEGEN), f"decide whether {'.'.join(path)} shapes"
        moved = code_settings(changed(base, path)) != code_settings(base)
        assert moved == (path in CODE_SHAPING), f"{'.'.join(path)}: the generate step's params change iff it shapes"


def test_every_code_shaping_setting_exists():
    known = set(leaves(Settings().as_dict()))
    assert set(CODE_SHAPING) <= known
