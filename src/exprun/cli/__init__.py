"""`exprun` command line: one small module per group of verbs."""

from __future__ import annotations

import argparse
import sys

from exprun.cli import wiki


def build_parser(wiki_only: bool = False) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exprun", description="Run wiki-planned ML experiments.")
    groups = parser.add_subparsers(dest="group", required=True)
    wiki.add_parser(groups)
    if not wiki_only:
        from exprun.cli import (
            capsule,
            dataset,
            notify,
            pipeline,
            remote,
            run,
            skill,
            watch,
        )  # `exprun wiki` stays fast without them

        pipeline.add_parsers(groups)
        run.add_parsers(groups)
        capsule.add_parsers(groups)
        remote.add_parser(groups)
        dataset.add_parser(groups)
        skill.add_parser(groups)
        watch.add_parser(groups)
        notify.add_parser(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["wiki"] and wiki.handed_over(argv[1:]):
        return wiki.hand_over(argv[1:])  # a verb of the wiki's own research_wiki.py
    args = build_parser(wiki_only=argv[:1] == ["wiki"]).parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
