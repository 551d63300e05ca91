"""`exprun` command line: one small module per group of verbs."""

from __future__ import annotations

import argparse
import sys

from . import wiki


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exprun", description="Run wiki-planned ML experiments.")
    groups = parser.add_subparsers(dest="group", required=True)
    wiki.add_parser(groups)
    from . import pipeline, run  # noqa: PLC0415 - keeps `exprun wiki` fast and free of heavy imports

    pipeline.add_parsers(groups)
    run.add_parsers(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
