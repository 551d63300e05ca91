"""The settings pass the Snakefile's check without jsonschema when they plainly conform, and never when
jsonschema would refuse them (exprun.core.quickschema)."""

from __future__ import annotations

import copy
import subprocess
import sys

import jsonschema
import pytest

from exprun.core import config, quickschema

ODD_VALUES = (None, True, False, 0, -1, 1, 1.5, -0.5, "", "x", "local", "jobs", [], ["x"], [1], {}, {"x": 1})


def defaults() -> dict:
    return config.validate({})


def leaves(data: dict, path: tuple = ()):
    for key, value in data.items():
        yield path + (key,)
        if isinstance(value, dict):
            yield from leaves(value, path + (key,))


def with_value(data: dict, path: tuple, value) -> dict:
    changed = copy.deepcopy(data)
    node = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return changed


def jsonschema_accepts(data: dict) -> bool:
    try:
        jsonschema.validate(data, config.schema())
    except jsonschema.ValidationError:
        return False
    return True


def test_the_defaults_and_each_profiles_settings_pass_without_jsonschema():
    """Else the quick path never fires and every Snakemake call imports jsonschema again."""
    assert quickschema.conforms(defaults(), config.schema())
    for profile in sorted(p.name for p in config.PROFILES_DIR.iterdir() if (p / "config.yaml").is_file()):
        settings = config.load(profile=profile).as_dict()
        assert quickschema.conforms(settings, config.schema()), profile


def test_no_value_it_passes_is_one_jsonschema_refuses():
    """Every field set to every odd value, and unknown fields at each level: whatever passes here passes there."""
    base, schema = defaults(), config.schema()
    tried = passed = 0
    for path in leaves(base):
        for value in ODD_VALUES:
            data = with_value(base, path, value)
            tried += 1
            if quickschema.conforms(data, schema):
                passed += 1
                assert jsonschema_accepts(data), (path, value)
        parent = path[:-1]
        data = with_value(base, parent + ("no_such_field",), 1) if parent else {**base, "no_such_field": 1}
        assert not quickschema.conforms(data, schema) and not jsonschema_accepts(data), path
    assert tried > 300 and 0 < passed < tried


LIST_OF_TARGETS = {
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["url", "events"],
        "properties": {
            "url": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9+.-]*://", "minLength": 4},
            "events": {"type": "array", "minItems": 1, "maxItems": 3, "uniqueItems": True, "items": {"type": "string"}},
        },
    },
}


@pytest.mark.parametrize(
    "value",
    [
        [],
        [{"url": "json://h/x", "events": ["ended"]}],
        [{"url": "json://h/x", "events": []}],
        [{"url": "json://h/x", "events": ["a", "a"]}],
        [{"url": "json://h/x", "events": ["a", "b", "c", "d"]}],
        [{"url": "no scheme", "events": ["ended"]}],
        [{"url": "a://", "events": ["ended"]}],
        [{"events": ["ended"]}],
        [{"url": "json://h/x", "events": ["ended"], "extra": 1}],
        [{"url": "json://h/x", "events": [1, True]}],
    ],
)
def test_lists_of_targets_are_judged_as_jsonschema_judges_them(value):
    """A list setting (notify targets) with sizes, uniqueness and a pattern: a yes here is a yes there."""
    try:
        jsonschema.validate(value, LIST_OF_TARGETS)
        accepted = True
    except jsonschema.ValidationError:
        accepted = False
    assert not quickschema.conforms(value, LIST_OF_TARGETS) or accepted
    if value in ([], [{"url": "json://h/x", "events": ["ended"]}]):
        assert quickschema.conforms(value, LIST_OF_TARGETS)  # the quick path does fire on good lists


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"type": "string", "format": "email"}, "b"),  # a keyword it does not know
        ({"type": "integer"}, 1.0),  # stricter: the full validator decides
        ({"enum": [1]}, True),
        ({"uniqueItems": True}, [1, True]),
        ({"$ref": "#/x"}, 1),
    ],
)
def test_what_it_cannot_tell_it_leaves_to_jsonschema(schema, value):
    assert not quickschema.conforms(value, schema)


def test_a_wrong_setting_is_still_named_by_field(tmp_path):
    with pytest.raises(config.ConfigError, match=r"field 'collect.poll_s'.*config.schema.yaml"):
        config.validate({"collect": {"poll_s": "often"}})


def test_valid_settings_are_checked_without_importing_jsonschema():
    code = (
        "import sys\nfrom exprun.core import config\nconfig.validate({'env': 'remote'})\n"
        "print('jsonschema' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
