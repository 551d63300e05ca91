"""`exprun reproduce|diff`: the commands that re-create a run, and what differs between two runs (read-only)."""

from __future__ import annotations

import argparse
from pathlib import Path

from exprun.cli.output import emit_json, human_verb
from exprun.core.slugs import validate_slug


def _reproduce(args: argparse.Namespace) -> int:
    from exprun.finish import reproduce
    from exprun.run import capsule_read

    root = Path(args.root)
    found = capsule_read.load(root, validate_slug(args.slug), args.attempt)
    if args.freeze:
        print(reproduce.freeze(found), end="")
    elif args.conda:
        print(reproduce.conda_list(found), end="")
    elif args.json:
        found.require_trusted()
        emit_json(
            {
                "slug": found.slug,
                "attempt": found.attempt,
                "capsule": found.data,
                "environments": [vars(e) for e in found.environments],
                "notes": found.notes,
                "commands": reproduce.commands(found, root) if found.environment else "",
            }
        )
    else:
        print(reproduce.commands(found, root), end="")
    return 0


def _diff(args: argparse.Namespace) -> int:
    from exprun.finish import capsule_diff
    from exprun.run import capsule_read

    root = Path(args.root)
    sides = []
    for ref in (args.first, args.second):
        slug, attempt = capsule_read.parse_ref(ref)
        sides.append(capsule_read.load(root, validate_slug(slug), attempt))
    found = capsule_diff.diff(*sides)
    if args.json:
        emit_json(found)
    else:
        print(capsule_diff.render(found))
    return 0


def add_parsers(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser("reproduce", help="print the commands that re-create a run from its capsule")
    parser.add_argument("slug")
    parser.add_argument("--attempt", type=int, help="which attempt (default: the latest)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--freeze", action="store_true", help="print only the recorded `pip freeze`")
    what.add_argument("--conda", action="store_true", help="print only the recorded conda package list")
    what.add_argument("--json", action="store_true", help="the capsule, its environments and the commands as JSON")
    parser.add_argument("--root", default=".", help="wiki root (the folder holding wiki/); default: here")
    parser.set_defaults(handler=lambda a: human_verb(lambda: _reproduce(a)))

    parser = groups.add_parser("diff", help="what differs between two runs' capsules (code, packages, data, settings)")
    parser.add_argument("first", help="<slug> (its latest attempt) or <slug>@<attempt>")
    parser.add_argument("second", help="<slug> or <slug>@<attempt>")
    parser.add_argument("--json", action="store_true", help="print as JSON")
    parser.add_argument("--root", default=".", help="wiki root (the folder holding wiki/); default: here")
    parser.set_defaults(handler=lambda a: human_verb(lambda: _diff(a)))
