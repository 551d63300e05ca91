"""Delivery to real receivers on loopback: apprise's json:// webhook to an HTTP server, mailto:// to an SMTP server;
a secret from the environment reaches the receiver and nothing else; a dead or silent target costs a short wait and
one line, never an exception."""

from __future__ import annotations

import json
import time

import pytest

from exprun.core.settings import NotifyTarget
from exprun.run import notify, notify_send
from notify_servers import mailbox, silent_endpoint, webhook  # noqa: F401 - fixtures


def crashed(name: str = "crashed", **fields) -> notify.Event:
    base = {
        "slug": "exp-a",
        "attempt": 1,
        "what": "traceback: ValueError: bad input",
        "title": "A study",
        "numbers": "exit status 1; step 3 / 10",
        "elapsed": "2 h",
        "where": "local (lab-1)",
        "next": "snakemake collect_exp-a",
    }
    return notify.Event(name, **{**base, **fields})


def test_the_webhook_and_the_mail_each_get_the_message_once(tmp_path, webhook, mailbox):  # noqa: F811
    targets = (
        NotifyTarget(webhook.url(), ("crashed", "ended")),
        NotifyTarget(mailbox.url(), ("crashed",)),
        NotifyTarget(webhook.url("/collected-only"), ("collected",)),
    )
    said: list[str] = []
    record = notify.announce(crashed(), targets, tmp_path, "status", say=said.append)
    assert record is not None and said == []
    assert [t["delivered"] for t in record["targets"]] == [True, True]
    (hook,) = webhook.wait_for(1)
    assert hook["path"] == "/hook" and hook["title"] == "exprun: exp-a crashed" and hook["type"] == "failure"
    assert hook["message"] == crashed().body.rstrip("\n")
    (mail,) = mailbox.wait_for(1)
    assert mail["Subject"] == "exprun: exp-a crashed" and mail["To"] == "ana@lab.example.org"
    assert "what: traceback: ValueError: bad input" in mail.get_content()
    assert "next: snakemake collect_exp-a" in mail.get_content()

    again = notify.announce(crashed(), targets, tmp_path, "collect", say=said.append)
    time.sleep(0.5)
    assert again is None and len(webhook.received) == 1 and len(mailbox.mails) == 1, "once per run"


def test_a_secret_comes_from_the_environment_when_sending_and_is_written_nowhere(
    tmp_path,
    webhook,  # noqa: F811
    monkeypatch,
    capsys,
):
    monkeypatch.setenv("LAB_HOOK_TOKEN", "tok-8f2e55aa")
    targets = (
        NotifyTarget(webhook.url("/hooks/${LAB_HOOK_TOKEN}"), ("crashed",)),
        NotifyTarget("json://ana:${LAB_HOOK_TOKEN}@127.0.0.1:1/dead", ("crashed",)),
    )
    notify.announce(crashed(), targets, tmp_path, "status")
    assert webhook.wait_for(1)[0]["path"] == "/hooks/tok-8f2e55aa", "expanded at send time"
    written = "".join(p.read_text() for p in tmp_path.rglob("*.json"))
    said = capsys.readouterr().err
    assert "tok-8f2e55aa" not in written and "tok-8f2e55aa" not in said
    assert "json://127.0.0.1:" in written and "/hooks/${LAB_HOOK_TOKEN}" in written
    assert "json://ana:****@127.0.0.1:1/dead: not delivered" in said
    assert len(said.strip().splitlines()) == 1, "one line for the one failure"


def test_a_dead_or_silent_target_costs_a_short_wait_and_shows_in_status(tmp_path, webhook, monkeypatch):  # noqa: F811
    monkeypatch.setattr(notify_send, "SOCKET_TIMEOUT_S", 0.5)
    with silent_endpoint() as port:
        targets = (
            NotifyTarget(f"json://127.0.0.1:{port}/hung", ("ended",)),
            NotifyTarget("json://127.0.0.1:1/refused", ("ended",)),
            NotifyTarget(webhook.url(), ("ended",)),
        )
        said: list[str] = []
        started = time.monotonic()
        record = notify.announce(crashed(name="ended"), targets, tmp_path, "run script", say=said.append)
        assert time.monotonic() - started < notify_send.TIMEOUT_S
    assert record is not None
    assert [t["delivered"] for t in record["targets"]] == [False, False, True], "the live one still gets it"
    assert len(webhook.received) == 1 and len(said) == 2
    failed = notify.failures("exp-a", tmp_path, 1)
    assert [f["target"] for f in failed] == [f"json://127.0.0.1:{port}/hung", "json://127.0.0.1:1/refused"]
    assert all(f["error"] and f["event"] == "ended" for f in failed)


@pytest.mark.parametrize("events", [("collected",), ("crashed", "ended")])
def test_notify_test_says_what_arrived(tmp_path, webhook, events):  # noqa: F811
    import subprocess
    import sys

    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(
        json.dumps({"notify": [{"url": webhook.url(), "events": list(events)}, {"url": "json://127.0.0.1:1/x",
                                                                                "events": ["ended"]}]})
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "exprun", "notify-test", "--root", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{webhook.url()} ({', '.join(events)}): delivered"
    assert lines[1].startswith("json://127.0.0.1:1/x (ended): NOT delivered: ")
    assert webhook.wait_for(1)[0]["title"] == "exprun: test message"
