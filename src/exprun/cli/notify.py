"""`exprun notify-ended` (what a run script runs once its program has ended) and `exprun notify-test` (one message
to every configured target, to check the URLs before a run depends on them)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from exprun.cli.output import human_verb
from exprun.cli.pipeline import add_settings_options, settings_of
from exprun.core.slugs import validate_slug


def _ended(args: argparse.Namespace) -> int:
    """Always exit 0: the run has ended whatever becomes of its message (a failure is one line on stderr)."""
    from exprun.core.errors import ExprunError
    from exprun.run import notify_events

    try:
        notify_events.run_ended(validate_slug(args.slug), args.attempt, Path(args.root))
    except (ExprunError, OSError) as exc:
        print(f"exprun: notify-ended {args.slug}: {exc}", file=sys.stderr)
    return 0


def _test(args: argparse.Namespace) -> int:
    from exprun.core.errors import ConfigError
    from exprun.run import notify_send

    targets = settings_of(args).notify
    if not targets:
        raise ConfigError("no `notify:` targets in the settings (config/config.yaml); see docs/configuration.md")
    deliveries = notify_send.deliver(
        [t.url for t in targets], "exprun: test message", "exprun can reach this target.\n", "info"
    )
    for target, delivery in zip(targets, deliveries, strict=True):
        answer = "delivered" if delivery.delivered else f"NOT delivered: {delivery.error}"
        print(f"{delivery.target} ({', '.join(target.events)}): {answer}")
    return 0 if all(d.delivered for d in deliveries) else 1


def add_parser(groups: argparse._SubParsersAction) -> None:
    ended = groups.add_parser(
        "notify-ended", help="tell the notify targets that a run's program has ended (its run script calls this)"
    )
    ended.add_argument("slug")
    ended.add_argument("--attempt", type=int, required=True, help="the attempt whose run ended")
    ended.add_argument("--root", default=".", help="wiki root (the folder holding wiki/); default: here")
    ended.set_defaults(handler=lambda a: human_verb(lambda: _ended(a)))

    test = groups.add_parser("notify-test", help="send a test message to every notify target and say what arrived")
    test.add_argument("--root", default=".", help="wiki root (the folder holding wiki/); default: here")
    add_settings_options(test)
    test.set_defaults(handler=lambda a: human_verb(lambda: _test(a)))
