"""Notifications without a network: the settings, the once-per-run claim, the message, masking, the run scripts'
callback. Delivery to real servers is tests/integration/test_notify_delivery.py."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from exprun.core import config
from exprun.core.errors import ConfigError
from exprun.core.settings import NotifyTarget
from exprun.machines.launchers import screen, slurm_script
from exprun.machines.launchers.base import RunRecord, RunSpec
from exprun.run import notify, notify_events, notify_send

REPO = Path(__file__).resolve().parents[2]


def test_notify_settings_are_read_and_checked_like_the_rest():
    settings = config.parse({"notify": [{"url": "json://127.0.0.1:8123/hook", "events": ["crashed", "ended"]}]})
    assert settings.notify == (NotifyTarget("json://127.0.0.1:8123/hook", ("crashed", "ended")),)
    assert config.from_argument(config.as_argument(settings)) == settings, "the rules hand them over intact"
    assert config.parse({}).notify == ()
    with pytest.raises(ConfigError, match=r"field 'notify\.0\.events\.0': 'done' is not one of"):
        config.parse({"notify": [{"url": "json://h/x", "events": ["done"]}]})
    with pytest.raises(ConfigError, match=r"field 'notify\.0\.url'"):
        config.parse({"notify": [{"url": "127.0.0.1:8123", "events": ["ended"]}]})
    with pytest.raises(ConfigError, match=r"field 'notify\.0'"):
        config.parse({"notify": [{"url": "json://h/x"}]})


def test_the_schema_names_exactly_the_events_exprun_raises():
    items = config.schema()["properties"]["notify"]["items"]
    assert tuple(items["properties"]["events"]["items"]["enum"]) == notify.EVENTS
    assert set(notify.KIND) == set(notify.EVENTS)


def test_the_example_in_config_yaml_is_valid(tmp_path):
    """config/config.yaml carries the example commented out; uncommented it is a valid setting."""
    text = (REPO / "config" / "config.yaml").read_text()
    block = "\n".join(line[2:] for line in text.splitlines() if line.startswith("# notify:") or line.startswith("#  "))
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(block + "\n")
    assert config.load(tmp_path).notify[0].events == ("crashed", "ended", "collected")


def event(name="crashed", **fields) -> notify.Event:
    base = {"slug": "exp-a", "attempt": 2, "what": "traceback: ValueError: bad", "title": "A study"}
    return notify.Event(name, **{**base, **fields})


def test_an_event_is_claimed_once_per_run_whoever_raises_it(tmp_path):
    """The claim is the exclusive creation of the event's record: the second raiser finds it and sends nothing."""
    path = notify.folder(tmp_path, "exp-a", 2) / "crashed.json"
    assert notify._claim(path, event(), "run script")
    assert not notify._claim(path, event(), "status")
    assert json.loads(path.read_text())["by"] == "run script"
    # another attempt, another detail, or after the automatic fix: news again
    assert notify._claim(notify.folder(tmp_path, "exp-a", 3) / "crashed.json", event(), "status")
    assert event("anomaly", detail="nan_loss").key == "anomaly.nan_loss"
    assert event("anomaly", detail="nan_loss", phase="after-fix").key == "anomaly.nan_loss.after-fix"
    assert event("anomaly", detail="a/b c").key == "anomaly.a-b-c", "a key is a file name"


def test_nothing_is_sent_or_written_for_an_event_no_target_wants(tmp_path):
    targets = (NotifyTarget("json://127.0.0.1:9/hook", ("collected",)),)
    assert notify.announce(event("crashed"), targets, tmp_path, "status") is None
    assert notify.announce(event("crashed"), (), tmp_path, "status") is None
    assert not (tmp_path / "experiments").exists()


def test_the_message_says_what_where_how_long_and_what_next():
    body = event(
        numbers="exit status 1; step 3 / 10",
        elapsed="2.5 h",
        where="slurm (login job 812)",
        next="snakemake collect_exp-a",
        phase="after-fix",
    ).body
    assert body.splitlines() == [
        "exp-a — A study",
        "event: crashed (attempt 2)",
        "what: traceback: ValueError: bad",
        "numbers: exit status 1; step 3 / 10",
        "elapsed: 2.5 h",
        "where: slurm (login job 812)",
        "note: after the automatic fix",
        "next: snakemake collect_exp-a",
    ]
    assert event().subject == "exprun: exp-a crashed"
    assert event("anomaly", detail="oom", what="loss 3").subject == "exprun: exp-a anomaly (oom)"


def test_a_secret_is_put_in_only_when_sending_and_shown_masked():
    env = {"HOOK_PASSWORD": "hunter2-s3cret", "BOT_TOKEN": "123456789:abcdefghijklmnopqrstuvwxyz"}
    full, used = notify_send.expand("json://ana:${HOOK_PASSWORD}@127.0.0.1:8123/hook", env)
    assert full == "json://ana:hunter2-s3cret@127.0.0.1:8123/hook" and used == {"HOOK_PASSWORD": "hunter2-s3cret"}
    assert notify_send.shown("json://ana:${HOOK_PASSWORD}@127.0.0.1:8123/hook?x=1", env) == (
        "json://ana:****@127.0.0.1:8123/hook"
    )
    shown = notify_send.shown("tgram://${BOT_TOKEN}/12345", env)
    assert "abcdefghijklmnopqrstuvwxyz" not in shown and shown.startswith("tgram://")
    assert notify_send.shown("json://127.0.0.1:8123/${HOOK_PASSWORD}", env) == "json://127.0.0.1:8123/${HOOK_PASSWORD}"
    assert notify_send.shown("nosuchscheme://host/hunter2", env) == "nosuchscheme://…", "unreadable: scheme only"
    with pytest.raises(notify_send.MissingSecret, match=r"\$\{HOOK_PASSWORD\} is not set"):
        notify_send.expand("json://ana:${HOOK_PASSWORD}@h/x", {})


def test_an_unset_secret_or_an_unknown_url_is_this_target_s_answer_not_an_error():
    done = notify_send.deliver(["json://ana:${NOT_SET_HERE}@127.0.0.1:9/x", "nosuchscheme://x"], "t", "b", "info", {})
    assert [d.delivered for d in done] == [False, False]
    assert "${NOT_SET_HERE} is not set in this environment; nothing was sent" in done[0].error
    assert done[1].target == "nosuchscheme://…" and done[1].error


def test_the_run_script_calls_exprun_back_only_when_a_target_wants_the_end(tmp_path):
    ended = (NotifyTarget("json://h/x", ("crashed",)),)
    hook = notify.ended_hook(ended, "exp-a", 3, tmp_path)
    assert hook == [
        sys.executable,
        "-m",
        "exprun",
        "notify-ended",
        "exp-a",
        "--attempt",
        "3",
        "--root",
        str(tmp_path.resolve()),
    ]
    assert notify.ended_hook((NotifyTarget("json://h/x", ("deployed",)),), "exp-a", 3, tmp_path) == []


def spec(tmp_path: Path, on_exit: list[str]) -> RunSpec:
    return RunSpec(
        "exp-a",
        ["bash", "run.sh"],
        tmp_path / "root dir",
        tmp_path / "log's.log",
        tmp_path / "exit_status",
        {},
        on_exit,
    )


def test_screen_runs_the_callback_after_the_exit_status_is_written(tmp_path):
    hook = [sys.executable, "-m", "exprun", "notify-ended", "exp-a", "--attempt", "1", "--root", "/w i/ki"]
    line = screen.wrapper_script(spec(tmp_path, hook), tmp_path / "pid")
    written = line.index("mv -f")
    assert line.index("notify-ended") > written, "the callback sees the exit status"
    assert line.endswith(f"'/w i/ki' >> '{tmp_path}/log'\"'\"'s.log' 2>&1")
    assert "notify-ended" not in screen.wrapper_script(spec(tmp_path, []), tmp_path / "pid")


def test_a_slurm_task_calls_back_where_its_node_has_exprun_and_the_golden_script_is_unchanged(tmp_path):
    hook = ["/opt/ex prun/bin/python", "-m", "exprun", "notify-ended", "exp-a", "--attempt", "1", "--root", "/w"]
    script = slurm_script.submit_script(spec(tmp_path, hook), [0, 1], slurm_script.Resources())
    lines = script.splitlines()
    call = next(i for i, line in enumerate(lines) if "notify-ended" in line and line.startswith("if"))
    assert lines[call] == (
        "if [ -x '/opt/ex prun/bin/python' ]; then '/opt/ex prun/bin/python' -m exprun notify-ended exp-a "
        "--attempt 1 --root /w || true; fi"
    )
    assert call > next(i for i, line in enumerate(lines) if line.startswith('echo "$code"'))
    assert lines[-1] == 'exit "$code"', "the task keeps its program's exit status"
    assert "notify-ended" not in slurm_script.submit_script(spec(tmp_path, []), [0, 1], slurm_script.Resources())


def test_a_relaunch_keeps_the_callback(tmp_path):
    record = RunRecord(
        "exp-a", "screen", "exp-exp-a", 1, "2026-01-01T00:00:00+00:00", "h", "b", ["bash"], "/w", "/w/l", "/w/e"
    )
    record.details["on_exit"] = ["py", "-m", "exprun", "notify-ended"]
    assert RunSpec.again(record, ["--resume"], None, Path).on_exit == ["py", "-m", "exprun", "notify-ended"]


def test_ended_or_crashed_never_both(tmp_path):
    from exprun.logs import monitor
    from exprun.machines.launchers.base import EXITED, LOST, RunState

    record = RunRecord("exp-a", "screen", "s", 1, "2026-01-01T00:00:00+00:00", "h", "b", [], "/w", "/w/l", "/w/e")
    record.attempt = 1
    progress = monitor.parse_progress(["step=3/3 loss=0.1 accuracy=0.91"])
    clean = notify_events.has_ended(record, tmp_path, RunState(EXITED, 0), [], progress)
    assert (clean.name, clean.numbers) == ("ended", "exit status 0; step 3 / 3; loss 0.1; accuracy 0.91")
    failed = notify_events.has_ended(record, tmp_path, RunState(EXITED, 3, "exit status 3"), [], progress)
    assert failed.name == "crashed" and failed.what == "exit status 3"
    lost = RunState(LOST, None, "machine rebooted since launch")
    assert notify_events.has_ended(record, tmp_path, lost, [], progress).name == "crashed"
    crash = [monitor.Anomaly("traceback", "ValueError: bad")]
    assert notify_events.has_ended(record, tmp_path, RunState(EXITED, None), crash, progress).name == "crashed"


def test_status_lists_what_did_not_reach_its_target(tmp_path):
    place = notify.folder(tmp_path, "exp-a", 1)
    place.mkdir(parents=True)
    record = {
        "key": "crashed",
        "at": "2026-01-01T00:00:00+00:00",
        "state": "done",
        "targets": [
            {"target": "json://127.0.0.1:9/hook", "delivered": False, "error": "connection refused"},
            {"target": "mailto://…", "delivered": True},
        ],
    }
    (place / "crashed.json").write_text(json.dumps(record))
    (place / "notify.targets.json").write_text("not json")  # unreadable records are skipped
    stuck = {"key": "ended", "at": "2000-01-01T00:00:00+00:00", "state": "sending"}
    (place / "ended.json").write_text(json.dumps(stuck))
    (place / notify.TARGETS_FILE).write_text("[]")
    found = notify.failures("exp-a", tmp_path, 1)
    assert found == [
        {"experiment": "exp-a", "event": "crashed", "at": record["at"], "target": "json://127.0.0.1:9/hook",
         "error": "connection refused"},
        {"experiment": "exp-a", "event": "ended", "at": "2000-01-01T00:00:00+00:00", "target": "—",
         "error": "the sender stopped before it finished"},
    ]  # fmt: skip
    from exprun.finish import status

    view = {k: [] for k in ("running", "anomaly", "pending_collect", "recent", "unreadable", "evidence_changed")}
    text = status.render({**view, "generated_at": "now", "actions": [], "notify_failed": found})
    assert "## Notifications not delivered\n- exp-a crashed → json://127.0.0.1:9/hook: connection refused" in text
    assert "Notifications" not in status.render({**view, "generated_at": "now", "actions": [], "notify_failed": []})


def test_the_targets_file_of_an_attempt_is_the_user_s_own(tmp_path):
    targets = (NotifyTarget("json://ana:${PW}@h/x", ("ended",)),)
    notify.remember_targets(targets, tmp_path, "exp-a", 4)
    path = notify.folder(tmp_path, "exp-a", 4) / notify.TARGETS_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert "${PW}" in path.read_text(), "written as configured: the secret stays in the environment"
    assert notify.remembered_targets(tmp_path, "exp-a", 4) == targets
    assert notify.remembered_targets(tmp_path, "exp-a", 5) == ()
    os.chmod(path, 0o644)
