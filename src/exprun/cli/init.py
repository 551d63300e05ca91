"""`exprun init <dir>`: make a folder a wiki root where plain `snakemake` commands work, with no flag to remember.

It writes what is missing and never a file that is there (a person's edits are theirs); run again, it says
for each path whether it wrote or kept it:
- `wiki/experiments/`, `wiki/log.md` (the wiki's header) and exprun's folders (logs/, results/, checkpoints/,
  experiments/code/, experiments/state/);
- `Snakefile`, which includes exprun's workflow (a different Snakefile is refused, with the line to add);
- `profiles/default/config.yaml`, Snakemake's workflow profile: Snakemake reads it with no flag, so
  `snakemake`, `snakemake deploy_<slug>` and `snakemake collect_<slug>` need neither --profile nor --cores.
  It sets only `cores` and `rerun-triggers`, and only when no --profile is given: Snakemake lets a workflow
  profile override a named profile key by key, so anything more would undo what profiles/remote sets.
  Without a profile exprun's settings are its defaults, the local profile's;
- `profiles/local`, `remote`, `slurm`, `slurm-jobs`: the wiki's own copies of exprun's profiles, to edit
  (partition, time, polling), and `config/server.example.yaml` (the server of the remote profile);
- pointer profiles in Snakemake's user config folder, so that `snakemake --profile remote` (a name) finds
  the wiki's profiles/remote: how and why in exprun.cli.profile_names.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from exprun.cli import profile_names
from exprun.cli.output import human_verb
from exprun.cli.profile_names import Step
from exprun.core import resources
from exprun.core.errors import ExprunError
from exprun.wiki.wikilog import LOG_HEADER

SNAKEFILE_PATH = resources.snakefile()
SNAKEFILE = """# Written by `exprun init`: runs the exprun workflow on this wiki.
# Usage: snakemake deploy_<slug> | collect_<slug> | full_<slug> | status  (alone: lists the experiments)
include: {snakefile!r}


# The default target must be a rule of this file (Snakemake takes none from an include).
rule list_experiments:
    default_target: True
    localrule: True
    shell:
        EXPRUN + " targets"
"""
FOLDERS = ("wiki/experiments", "logs", "results", "checkpoints", "experiments/code", "experiments/state")
WORKFLOW_PROFILE = resources.data_file("workflow-profile.yaml")
SERVER_EXAMPLE = resources.workflow_dir() / "config" / "server.example.yaml"


def init(root: Path, config_dir: Path | None = None) -> list[Step]:
    """Make `root` a wiki root (see the module's docstring); what was done to each path, in order.
    `config_dir`: Snakemake's user config folder (default: the one Snakemake reads)."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise ExprunError(f"{root}: a file, not a folder; give the folder that holds (or will hold) wiki/")
    snakefile = root / "Snakefile"
    content = SNAKEFILE.format(snakefile=str(SNAKEFILE_PATH))
    found = snakefile.read_text(encoding="utf-8", errors="replace") if snakefile.exists() else content
    if found != content:
        line = f"include: {str(SNAKEFILE_PATH)!r}"
        if found.startswith(SNAKEFILE.splitlines()[0]):  # exprun's, for an exprun installed elsewhere before
            raise ExprunError(f"{snakefile} includes another exprun's workflow; make its include line: {line}")
        raise ExprunError(f"{snakefile} exists and is not exprun's; move it away or add the line: {line}")
    steps = [_folder(root)] if not root.exists() else []
    root.mkdir(parents=True, exist_ok=True)
    steps += [_folder(root / sub) for sub in FOLDERS if not (root / sub).is_dir()]
    steps.append(_new_file(root / "wiki" / "log.md", LOG_HEADER))
    steps.append(_new_file(snakefile, content))
    steps.append(_new_file(root / "profiles" / "default" / "config.yaml", WORKFLOW_PROFILE.read_text("utf-8")))
    for name in profile_names.names():
        for shipped in sorted(p for p in (resources.profiles_dir() / name).iterdir() if p.is_file()):
            steps.append(_new_file(root / "profiles" / name / shipped.name, shipped.read_text("utf-8")))
    steps.append(_new_file(root / "config" / SERVER_EXAMPLE.name, SERVER_EXAMPLE.read_text("utf-8")))
    steps += profile_names.write_pointers(root, config_dir)
    return steps


def _folder(path: Path) -> Step:
    path.mkdir(parents=True, exist_ok=True)
    return Step("made", path)


def _new_file(path: Path, text: str) -> Step:
    """Write `text` to a new file; a file already there (or a link) is kept, whatever it holds."""
    if path.exists() or path.is_symlink():
        same = path.is_file() and path.read_bytes() == text.encode("utf-8")
        return Step("kept", path, "as exprun wrote it" if same else "yours: left as it is")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8") as handle:  # "x": never over a file that appeared meanwhile
        handle.write(text)
    return Step("wrote", path)


def _run(args: argparse.Namespace) -> int:
    for step in init(Path(args.wiki_root)):
        print(step.line())
    print(f"ready: cd {shlex.quote(args.wiki_root)} && snakemake   (lists the experiments and each one's next command)")
    return 0


def add_parser(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser("init", help="make a folder a wiki root for plain `snakemake deploy_<slug>`")
    parser.add_argument("wiki_root")
    parser.set_defaults(handler=lambda a: human_verb(lambda: _run(a)))
