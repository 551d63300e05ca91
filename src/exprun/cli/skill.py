"""`exprun install-skill <wiki-root>`: the wiki's `/exp-run` skill, carried out by exprun.

Writes `.claude/skills/exp-run/SKILL.md` from the text shipped as `exprun/data/exp-run-skill.md`, filled in with
where exprun's commands are and how this wiki calls the workflow. The wiki's own skill is kept beside it as
`SKILL.md.orig`, and `--uninstall` renames it back (the same bytes, mode and time). exprun knows its own skill
by a marker line holding the SHA-256 of the rest of the file, so it never overwrites, without `--force`, a
copy someone edited, nor a file that is not its own when an original is already kept.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from exprun.cli import init as init_mod
from exprun.cli.output import human_verb
from exprun.core import resources
from exprun.core.errors import ExprunError
from exprun.core.files import atomic_write_text

SKILL_DIR = Path(".claude") / "skills" / "exp-run"
TEMPLATE = "exp-run-skill.md"
MARKER = re.compile(r"^<!-- written by exprun install-skill \(sha256 ([0-9a-f]{64})\)[^\n]*-->\n", re.M)
MARKER_LINE = (
    "<!-- written by exprun install-skill (sha256 {digest}); it keeps an edited copy unless --force, "
    "and --uninstall puts the wiki's own skill back -->\n"
)


@dataclass(frozen=True)
class SkillFiles:
    folder: Path
    skill: Path
    original: Path

    @classmethod
    def of(cls, root: Path) -> SkillFiles:
        folder = Path(root) / SKILL_DIR
        return cls(folder, folder / "SKILL.md", folder / "SKILL.md.orig")


def snakemake_commands(root: Path) -> dict[str, str]:
    """How this wiki calls the workflow here and on the server: its own profiles when `exprun init` wrote them
    (Snakemake finds `profiles/default` by itself), else exprun's profiles by their full path."""
    root, shipped = Path(root), resources.profiles_dir()
    local = "snakemake" if (root / "profiles" / "default").is_dir() else f"snakemake --profile {_q(shipped / 'local')}"
    remote = "profiles/remote" if (root / "profiles" / "remote").is_dir() else _q(shipped / "remote")
    return {"SNAKEMAKE_LOCAL": local, "SNAKEMAKE_REMOTE": f"snakemake --profile {remote}"}


def render(root: Path) -> str:
    """The skill for this wiki, its marker line (the hash of everything else) right after the frontmatter."""
    values = {
        **snakemake_commands(root),
        "EXPRUN_BIN": str(Path(sys.executable).absolute().parent),  # not resolved: a venv's python is a link
        "RUN_CONTRACT": str(resources.data_file("run-contract.md")),
    }
    text = resources.data_file(TEMPLATE).read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    end = text.index("\n---\n", 4) + len("\n---\n")
    return text[:end] + MARKER_LINE.format(digest=_digest(text)) + text[end:]


def is_ours(text: str) -> tuple[bool, bool]:
    """(written by install-skill, and unchanged since)."""
    found = MARKER.search(text)
    if found is None:
        return False, False
    return True, _digest(text[: found.start()] + text[found.end() :]) == found.group(1)


def install(root: Path, force: bool = False) -> list[str]:
    """Make the wiki runnable (`exprun init`), then write exprun's skill; the lines to print."""
    root = Path(root)
    if not (root / "wiki").is_dir():  # the skill belongs in a research wiki: any other folder is a mistyped path
        raise ExprunError(f"{root}: no wiki/ folder here; give the wiki's root (the folder that holds wiki/)")
    said = [step.line() for step in init_mod.init(root) if step.action != "kept"]
    files, new = SkillFiles.of(root), render(root)
    if files.skill.is_file():
        current = files.skill.read_text(encoding="utf-8", errors="replace")
        mine, unedited = is_ours(current)
        if mine and current == new:
            return [*said, f"{files.skill}: exprun's skill is already installed"]
        if mine and not unedited and not force:
            raise ExprunError(
                f"{files.skill}: exprun's skill was edited since it was installed; keep the edits (move the file "
                f"away first), or overwrite them: exprun install-skill {_q(root)} --force"
            )
        if not mine and files.original.exists() and not force:
            raise ExprunError(
                f"{files.skill} is not exprun's skill and {files.original.name} already keeps an original; move "
                f"one of them away, or replace {files.skill.name} (its text is lost): "
                f"exprun install-skill {_q(root)} --force"
            )
        if not mine and not files.original.exists():
            os.rename(files.skill, files.original)
            said.append(f"kept the wiki's own skill as {files.original}")
    files.folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(files.skill, new)
    return [*said, f"wrote {files.skill}: /exp-run now runs through exprun (--uninstall restores the wiki's own)"]


def uninstall(root: Path, force: bool = False) -> list[str]:
    """Put the wiki's own skill back (or remove exprun's when there was none); the lines to print."""
    files = SkillFiles.of(root)
    if files.skill.is_file():
        mine, unedited = is_ours(files.skill.read_text(encoding="utf-8", errors="replace"))
        if not mine:
            raise ExprunError(f"{files.skill} is not exprun's skill; nothing was changed")
        if not unedited and not force:
            raise ExprunError(
                f"{files.skill}: exprun's skill was edited since it was installed; move it away to keep the edits, "
                f"or drop them: exprun install-skill {_q(Path(root))} --uninstall --force"
            )
    if files.original.exists():
        os.replace(files.original, files.skill)
        return [f"restored the wiki's own skill: {files.skill}"]
    if not files.skill.is_file():
        return [f"{files.skill}: no skill of exprun's here; nothing to do"]
    files.skill.unlink()
    if not any(files.folder.iterdir()):
        files.folder.rmdir()
    return [f"removed exprun's skill {files.skill} (the wiki had no /exp-run of its own)"]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _q(path: Path) -> str:
    return shlex.quote(str(path))


def _run(args: argparse.Namespace) -> int:
    action = uninstall if args.uninstall else install
    print("\n".join(action(Path(args.wiki_root), force=args.force)))
    return 0


def add_parser(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser(
        "install-skill", help="make the wiki's /exp-run skill run through exprun (the wiki's own is kept)"
    )
    parser.add_argument("wiki_root", help="the folder holding wiki/ and .claude/")
    parser.add_argument("--force", action="store_true", help="overwrite an edited skill, or one that is not exprun's")
    parser.add_argument("--uninstall", action="store_true", help="put the wiki's own skill back")
    parser.set_defaults(handler=lambda a: human_verb(lambda: _run(a)))
