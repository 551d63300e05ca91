"""`exprun` command line: one small module per group of verbs."""

from __future__ import annotations

import argparse
import importlib
import sys

# Which module adds each verb's parser. A call builds (and so imports) only the module of the verb it names:
# every Snakemake job starts an `exprun rule <step>`, which must not pay for `watch`, `remote` and the rest.
# `exprun --help` or an unknown verb builds them all (tests/unit/test_cli_dispatch.py keeps this table whole).
VERB_MODULES = {
    "wiki": "wiki",
    "approve": "pipeline",
    "regenerate": "pipeline",
    "check-code": "pipeline",
    "rule": "pipeline",
    "init": "pipeline",
    "deploy": "run",
    "collect": "run",
    "status": "run",
    "collect-ready": "run",
    "retry": "run",
    "targets": "run",
    "dashboard": "run",
    "remote": "remote",
    "fetch-data": "dataset",
    "install-skill": "skill",
    "watch": "watch",
    "reproduce": "capsule",
    "diff": "capsule",
    "notify-ended": "notify",
    "notify-test": "notify",
}
# The order `--help` lists them.
MODULE_ORDER = ("wiki", "pipeline", "run", "capsule", "remote", "dataset", "skill", "watch", "notify")


def _add(groups: argparse._SubParsersAction, name: str) -> None:
    module = importlib.import_module(f"exprun.cli.{name}")
    (module.add_parser if hasattr(module, "add_parser") else module.add_parsers)(groups)


def build_parser(wiki_only: bool = False, verb: str | None = None) -> argparse.ArgumentParser:
    """The parser of every verb; of `exprun wiki` alone (wiki_only), or of the group of one verb."""
    parser = argparse.ArgumentParser(prog="exprun", description="Run wiki-planned ML experiments.")
    groups = parser.add_subparsers(dest="group", required=True)
    if wiki_only:
        verb = "wiki"
    for name in [VERB_MODULES[verb]] if verb in VERB_MODULES else MODULE_ORDER:
        _add(groups, name)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["wiki"]:
        from exprun.cli import wiki

        if wiki.handed_over(argv[1:]):
            return wiki.hand_over(argv[1:])  # a verb of the wiki's own research_wiki.py
    args = build_parser(verb=argv[0] if argv else None).parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
