"""The commands the installed /exp-run skill tells an agent to type: every line of its fenced code blocks and
every inline code span that starts with `exprun` or `snakemake` (by name or by path), placeholders filled in."""

from __future__ import annotations

import re
import shlex

FENCE = re.compile(r"^[ \t]*```(?:bash|sh)?[ \t]*\n(.*?)^[ \t]*```", re.M | re.S)
INLINE = re.compile(r"`((?:\S*/)?(?:exprun|snakemake) [^`]*)`")
PROGRAMS = ("exprun", "snakemake")


def commands(skill: str, slug: str, root: str) -> list[list[str]]:
    """Each command as its argument list, in the order the skill names them (duplicates kept out)."""
    lines = [line for block in FENCE.findall(skill) for line in block.splitlines()]
    lines += INLINE.findall(skill)
    found: list[list[str]] = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        words = shlex.split(line.replace("{slug}", slug).replace("<wiki-root>", shlex.quote(root)).lstrip("! "))
        if words and program(words) and words not in found:
            found.append(words)
    return found


def program(words: list[str]) -> str:
    """`exprun` or `snakemake` when the command runs one of them (also by its full path), else ''."""
    name = words[0].rsplit("/", 1)[-1]
    return name if name in PROGRAMS else ""


def snakemake_targets(words: list[str]) -> list[str]:
    """The targets of a snakemake command line: its words that are neither options nor their values."""
    targets, skip = [], False
    for word in words[1:]:
        if skip:
            skip = False
        elif word in ("--profile", "--config", "--directory", "--snakefile", "--cores", "-c"):
            skip = True
        elif not word.startswith("-"):
            targets.append(word)
    return targets
