"""`exprun fetch-data <slug>`: a person's explicit go-ahead to download a dataset where the run will run.

No rule calls it (a test greps the workflow for it): the dataset check only asks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from exprun.cli.output import human_verb
from exprun.cli.pipeline import add_settings_options, settings_of
from exprun.core.invocation import snakemake_command
from exprun.core.slugs import validate_slug


def _write(chunk: bytes) -> None:
    sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()


def _fetch_data(args: argparse.Namespace) -> int:
    from exprun.prepare import dataset  # each verb imports only what it needs

    slug = validate_slug(args.slug)
    sys.stdout.flush()
    report = dataset.fetch_data(slug, Path(args.root), settings_of(args), _write, force=args.force)
    print(f"{slug}: dataset ok — {report['summary']}")
    print(f"next: {snakemake_command(f'prepare_{slug}')} (the check runs again and the pipeline goes on)")
    return 0


def add_parser(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser(
        "fetch-data",
        help="run config.yaml's dataset.download where the run will run (here, or on the server), then check the data",
    )
    parser.add_argument("slug")
    parser.add_argument("--root", default=".", help="wiki root (the folder holding wiki/); default: here")
    parser.add_argument("--force", action="store_true", help="download even when the data is already there")
    add_settings_options(parser)
    parser.set_defaults(handler=lambda a: human_verb(lambda: _fetch_data(a)))
