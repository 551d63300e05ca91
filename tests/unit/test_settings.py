"""One way to load settings, for the rules and the CLI alike: the profile's settings count for `exprun` too."""

from __future__ import annotations

import subprocess
import sys

import pytest

from exprun.core import config
from exprun.core.errors import ConfigError


def test_profile_settings_are_layered_over_the_wiki_config(example_wiki):
    (example_wiki / "config").mkdir()
    (example_wiki / "config" / "config.yaml").write_text("gpu:\n  count: 2\nenv: local\n")
    assert config.load(example_wiki).env == "local"
    remote = config.load(example_wiki, "remote")
    assert remote.env == "remote" and remote.gpu.count == 2
    jobs = config.load(example_wiki, "slurm-jobs", {"json": "true"})
    assert (jobs.env, jobs.full_via, jobs.json) == ("slurm", "jobs", True)


@pytest.mark.parametrize("profile", ["local", "remote", "slurm", "slurm-jobs"])
def test_a_shipped_profile_leaves_the_wiki_s_own_settings_alone(example_wiki, profile):
    """A profile's configfile overrides config/config.yaml (Snakemake's order), so a shipped profile sets only
    what makes it that profile: its defaults once replaced a person's `slurm.time` and `collect.poll_s`."""
    (example_wiki / "config").mkdir()
    (example_wiki / "config" / "config.yaml").write_text(
        "collect:\n  poll_s: 7\nslurm:\n  time: '00:10:00'\n  mem: 2G\nmonitor:\n  stall_minutes: 5\n"
    )
    settings = config.load(example_wiki, profile)
    assert (settings.collect.poll_s, settings.slurm.time, settings.slurm.mem) == (7, "00:10:00", "2G")
    assert settings.monitor.stall_minutes == 5
    assert settings.env == {"local": "local", "remote": "remote"}.get(profile, "slurm")


def test_a_profile_of_the_wiki_root_wins_over_exprun_own(example_wiki):
    mine = example_wiki / "profiles" / "remote"
    mine.mkdir(parents=True)
    (mine / "config.yaml").write_text("configfile: mine.yaml\nconfig:\n  - review=true\n")
    (mine / "mine.yaml").write_text("env: slurm\n")
    settings = config.load(example_wiki, "remote")
    assert settings.env == "slurm" and settings.review is True


def test_an_unknown_profile_names_the_ones_there_are(example_wiki):
    with pytest.raises(ConfigError) as err:
        config.load(example_wiki, "remot")
    assert "remote" in str(err.value) and "slurm-jobs" in str(err.value)


def test_settings_travel_as_one_argument_and_come_back_whole(example_wiki):
    settings = config.load(example_wiki, "slurm")
    assert config.from_argument(config.as_argument(settings)) == settings
    with pytest.raises(ConfigError, match="not JSON"):
        config.from_argument("{broken")


def test_the_rules_hand_the_settings_over_in_the_environment_and_a_profile_named_wins(example_wiki, monkeypatch):
    """The Snakefile sets $EXPRUN_SETTINGS for its steps (their command lines stay short); a person's --profile
    still decides for the command it is given on."""
    import argparse

    from exprun.cli.pipeline import settings_of

    monkeypatch.setenv(config.SETTINGS_ENV, config.as_argument(config.load(example_wiki, "slurm")))
    args = argparse.Namespace(root=str(example_wiki), profile=None, settings_json=None)
    assert settings_of(args).env == "slurm"
    assert settings_of(argparse.Namespace(root=str(example_wiki), profile="remote")).env == "remote"
    monkeypatch.setenv(config.SETTINGS_ENV, "{broken")
    with pytest.raises(ConfigError, match=r"^\$EXPRUN_SETTINGS is not JSON"):
        settings_of(args)


def test_exprun_deploy_uses_the_profile_it_is_given(example_wiki):
    """Without --profile the wiki's settings (local); with --profile remote the remote path is taken."""
    from exprun.gate import approval as gate
    from exprun.prepare.codegen import generate

    slug = "digits-mlp-vs-logreg"
    generate.generate(slug, config.load(example_wiki), example_wiki)
    gate.approve(slug, example_wiki, who="ana")
    argv = [sys.executable, "-m", "exprun", "deploy", slug, "--root", str(example_wiki), "--skip-sanity"]
    remote = subprocess.run([*argv, "--profile", "remote"], capture_output=True, text=True, timeout=60)
    assert remote.returncode == 1 and "server.yaml" in remote.stderr and "Traceback" not in remote.stderr
    assert not (example_wiki / "experiments" / "state" / slug / "run.json").exists(), "nothing launched here"


def test_the_typed_settings_match_the_schema_key_for_key():
    """The schema carries the defaults and a description of every key; the dataclasses must say the same."""
    import dataclasses

    from exprun.core import settings as typed

    def check(schema_node: dict, cls, where: str) -> None:
        props = schema_node["properties"]
        fields = {f.name: f for f in dataclasses.fields(cls)}
        assert set(props) == set(fields), f"{where}: schema {sorted(props)} vs {cls.__name__} {sorted(fields)}"
        for name, sub in props.items():
            assert sub.get("description"), f"{where}.{name} has no description in the schema"
            if sub.get("type") == "object" and "properties" in sub:
                check(sub, fields[name].default_factory, f"{where}.{name}")
            else:
                default = fields[name].default
                expected = tuple(sub["default"]) if isinstance(sub["default"], list) else sub["default"]
                assert default == expected, f"{where}.{name}: default {default!r} vs schema {sub['default']!r}"

    check(config.schema(), typed.Settings, "settings")
    assert config.parse({}) == typed.Settings()
