"""Notifications from real runs under screen: a crash, an anomaly and a completion each reach the webhook (and the
mail) exactly once, whoever looks — the run script itself, `exprun status` every minute, a collect."""

from __future__ import annotations

import json
import re
import time

import yaml
from workflow_helpers import DEMO_SLUG, SEEDS_RUN, approve_with, exprun, hint, output, snakemake

from notify_servers import mailbox, webhook  # noqa: F401 - fixtures

CRASH_RUN = """#!/usr/bin/env bash
echo "step=1/10 epoch=1 loss=0.6931 lr=0.001"
python3 -c "raise ValueError('bad input in batch 7')"
"""

NAN_RUN = """#!/usr/bin/env bash
echo "step=1/10 epoch=1 loss=0.6931 lr=0.001"
echo "step=2/10 epoch=1 loss=nan lr=0.001"
sleep 60
"""

STALL_RUN = """#!/usr/bin/env bash
echo "step=1/10 epoch=1 loss=0.5 lr=0.001"
sleep 60
"""


def notify_config(root, *targets: tuple[str, list[str]], **more) -> None:
    """The wiki's config.yaml with these notify targets (written after the prepare: it is no input of it)."""
    config = {"collect": {"poll_s": 1}, **more, "notify": [{"url": url, "events": events} for url, events in targets]}
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(config))


def records(root) -> dict[str, dict]:
    folder = root / "experiments" / "state" / DEMO_SLUG / "attempts" / "1" / "notify"
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json") if p.name != "targets.json"}


def test_a_crash_is_told_once_by_the_run_script_and_its_collect_once_by_the_sweep(
    wiki_root,
    screen_available,
    cleanup_screens,
    webhook,  # noqa: F811
    mailbox,  # noqa: F811
):
    approve_with(wiki_root, run_sh=CRASH_RUN)
    notify_config(wiki_root, (webhook.url(), ["crashed", "ended", "collected"]), (mailbox.url(), ["crashed"]))
    deployed = snakemake(wiki_root, f"deploy_{DEMO_SLUG}")
    assert deployed.returncode == 0, output(deployed)

    (crash,) = webhook.wait_for(1)  # nobody looked: the run script told it
    assert crash["title"] == f"exprun: {DEMO_SLUG} crashed" and crash["type"] == "failure"
    body = crash["message"]
    assert "what: traceback: ValueError: bad input in batch 7" in body
    assert "numbers: exit status 1; step 1 / 10, epoch 1; loss 0.6931" in body
    assert "where: local (" in body and "elapsed: " in body
    assert f"next: {hint(wiki_root, f'collect_{DEMO_SLUG}')}" in body, "the command as typed, profile and all"
    assert records(wiki_root)["crashed"]["by"] == "run script"
    (mail,) = mailbox.wait_for(1)
    assert mail["Subject"] == f"exprun: {DEMO_SLUG} crashed"

    for _ in range(2):  # status every minute, and once more: nothing new
        assert exprun(wiki_root, "status").returncode == 0
    swept = snakemake(wiki_root, "collect_ready")  # the morning sweep collects it
    assert swept.returncode == 0, output(swept)
    assert exprun(wiki_root, "status").returncode == 0
    time.sleep(0.5)
    assert webhook.titles() == [f"exprun: {DEMO_SLUG} crashed", f"exprun: {DEMO_SLUG} collected"]
    assert (
        "what: outcome: inconclusive (the run crashed: ValueError: bad input in batch 7)"
        in (webhook.received[1]["message"])
    )
    assert "exprun retry" in webhook.received[1]["message"], "the next step of a run that counted nothing"
    assert len(mailbox.mails) == 1


def test_an_anomaly_is_told_once_however_often_status_looks(
    wiki_root,
    screen_available,
    cleanup_screens,
    webhook,  # noqa: F811
):
    approve_with(wiki_root, run_sh=NAN_RUN)
    notify_config(wiki_root, (webhook.url(), ["anomaly", "ended"]), autofix={"enabled": False})
    assert snakemake(wiki_root, f"deploy_{DEMO_SLUG}").returncode == 0
    log = wiki_root / "logs" / f"exp-{DEMO_SLUG}.log"
    deadline = time.monotonic() + 30
    while "loss=nan" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.1)
    for _ in range(3):
        looked = exprun(wiki_root, "status")
        assert looked.returncode == 0, output(looked)
    checked = snakemake(wiki_root, f"collect_{DEMO_SLUG}")  # a collect of the live run looks too
    assert checked.returncode == 0, output(checked)
    assert webhook.titles() == [f"exprun: {DEMO_SLUG} anomaly (nan_loss)"]
    message = webhook.received[0]["message"]
    assert "what: nan_loss: step=2/10 epoch=1 loss=nan lr=0.001 — lower the learning rate" in message
    assert "numbers: step 2 / 10, epoch 1; loss nan" in message
    assert records(wiki_root)["anomaly.nan_loss"]["by"] == "status"


def test_the_automatic_fix_is_told_and_what_the_fixed_run_does_is_news_again(
    wiki_root,
    screen_available,
    cleanup_screens,
    webhook,  # noqa: F811
):
    """NaN → anomaly; the collect's one fix → autofix; the relaunched run's NaN → anomaly again, said to come
    after the fix (no second fix will come: the person must act)."""
    approve_with(wiki_root, run_sh=NAN_RUN)
    notify_config(wiki_root, (webhook.url(), ["anomaly", "autofix"]))
    assert snakemake(wiki_root, f"deploy_{DEMO_SLUG}").returncode == 0
    log = wiki_root / "logs" / f"exp-{DEMO_SLUG}.log"
    deadline = time.monotonic() + 30
    while "loss=nan" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.1)
    fixed = snakemake(wiki_root, f"collect_{DEMO_SLUG}")
    assert fixed.returncode == 0 and "Automatic fix applied" in output(fixed), output(fixed)
    deadline = time.monotonic() + 30
    while log.read_text().count("loss=nan") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    for _ in range(2):
        assert snakemake(wiki_root, f"collect_{DEMO_SLUG}").returncode == 0
    assert webhook.titles() == [
        f"exprun: {DEMO_SLUG} anomaly (nan_loss)",
        f"exprun: {DEMO_SLUG} autofix (nan_loss)",
        f"exprun: {DEMO_SLUG} anomaly (nan_loss)",
    ]
    fix, again = webhook.received[1]["message"], webhook.received[2]["message"]
    assert "what: nan_loss → learning_rate 0.001 → 0.0005, resumed from the latest checkpoint" in fix
    assert "note: after the automatic fix" in again and "note:" not in webhook.received[0]["message"]
    assert sorted(records(wiki_root)) == ["anomaly.nan_loss", "anomaly.nan_loss.after-fix", "autofix.nan_loss"]


def test_a_stall_is_told_once(wiki_root, screen_available, cleanup_screens, webhook):  # noqa: F811
    approve_with(wiki_root, run_sh=STALL_RUN)
    notify_config(wiki_root, (webhook.url(), ["stalled"]), monitor={"stall_minutes": 0.02})
    assert snakemake(wiki_root, f"deploy_{DEMO_SLUG}").returncode == 0
    time.sleep(2.0)
    for _ in range(2):
        assert exprun(wiki_root, "status").returncode == 0
    assert webhook.titles() == [f"exprun: {DEMO_SLUG} stalled"]
    said = re.search(r"what: stalled: no log output for (\d+) s \(limit 1 s\)", webhook.received[0]["message"])
    assert said and int(said.group(1)) >= 2, webhook.received[0]["message"]  # seconds, not "0 min (limit 0 min)"


def test_a_completion_is_told_when_it_ends_and_when_it_is_collected(
    wiki_root,
    screen_available,
    cleanup_screens,
    webhook,  # noqa: F811
):
    approve_with(wiki_root, run_sh=SEEDS_RUN)
    notify_config(wiki_root, (webhook.url(), ["deployed", "ended", "crashed", "collected"]))
    deployed = snakemake(wiki_root, f"deploy_{DEMO_SLUG}")
    assert deployed.returncode == 0, output(deployed)
    titles = [m["title"] for m in webhook.wait_for(2)]
    assert sorted(titles) == [f"exprun: {DEMO_SLUG} deployed", f"exprun: {DEMO_SLUG} ended"]
    ended = next(m for m in webhook.received if m["title"].endswith("ended"))
    assert ended["type"] == "success" and "what: ended; ready to collect" in ended["message"]
    assert "numbers: exit status 0" in ended["message"]
    deploy_message = next(m for m in webhook.received if m["title"].endswith("deployed"))["message"]
    assert "numbers: estimate " in deploy_message and "3 task(s)" in deploy_message

    collected = exprun(wiki_root, "collect", DEMO_SLUG)
    assert collected.returncode == 0, output(collected)
    assert exprun(wiki_root, "status").returncode == 0
    assert snakemake(wiki_root, "collect_ready").returncode == 0
    time.sleep(0.5)
    assert len(webhook.received) == 3
    last = webhook.received[2]
    assert last["title"] == f"exprun: {DEMO_SLUG} collected"
    assert "what: outcome: succeeded" in last["message"] and "over 3 seed(s)" in last["message"]
    assert f"/exp-eval {DEMO_SLUG}" in last["message"]


def test_a_target_that_cannot_be_reached_never_stops_the_run_and_shows_in_status(
    wiki_root, screen_available, cleanup_screens
):
    approve_with(wiki_root, run_sh=SEEDS_RUN)
    notify_config(wiki_root, ("json://127.0.0.1:1/nobody-listens", ["deployed", "ended", "collected"]))
    deployed = snakemake(wiki_root, f"deploy_{DEMO_SLUG}")
    assert deployed.returncode == 0, output(deployed)
    assert f"exprun: notify {DEMO_SLUG} deployed → json://127.0.0.1:1/nobody-listens: not delivered" in (
        output(deployed)
    )
    exit_file = wiki_root / "experiments" / "state" / DEMO_SLUG / "exit_status"
    log_file = wiki_root / "logs" / f"exp-{DEMO_SLUG}.log"
    said = f"exprun: notify {DEMO_SLUG} ended → json://127.0.0.1:1/nobody-listens: not delivered"
    # The record is claimed before sending and the failure is said after it, so wait for the line itself.
    deadline = time.monotonic() + 60
    while said not in log_file.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert said in log_file.read_text()
    assert records(wiki_root)["ended"]["state"] == "done"
    assert exit_file.read_text().strip() == "0", "the run's own exit status, whatever the notification did"

    looked = exprun(wiki_root, "status")
    assert looked.returncode == 0
    section = looked.stdout.split("## Notifications not delivered\n")[1]
    assert f"- {DEMO_SLUG} deployed → json://127.0.0.1:1/nobody-listens: " in section
    assert f"- {DEMO_SLUG} ended → json://127.0.0.1:1/nobody-listens: " in section
    collected = exprun(wiki_root, "collect", DEMO_SLUG)
    assert collected.returncode == 0, output(collected)
    assert "# Run Report" in collected.stdout
