"""`snakemake --profile remote` in a wiki root finds the wiki's own profiles/remote: exprun's pointer profiles.

Snakemake looks a profile name up in the current folder (`./remote`), then in its user config folder
(`~/.config/snakemake/remote`; platformdirs, so `$XDG_CONFIG_HOME` is honoured), then in the site folder
(`/etc/xdg/snakemake/remote`). `exprun init` writes one pointer per profile name into the user folder: a
Snakemake profile whose only content, read by Snakemake's own profile reader (yte), is the
`profiles/<name>/config.yaml` of the folder Snakemake runs in — the wiki root — with its paths resolved
against that folder. One pointer serves every wiki; run elsewhere, it stops with one line that names the
path form. A profile of that name in the user folder that is not exprun's is never touched: init says so,
and `--profile profiles/<name>` (the path form) works in the wiki root regardless.

Rejected: folders `local/`, `remote/` ... in the wiki root (found first, but they crowd a person's wiki and
may be names it already uses); absolute paths in the pointer (one wiki only); a pointer that imports exprun
(a Snakemake of another environment reading it would fail on the import, not with the one line).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

from exprun.core import resources
from exprun.core.files import atomic_write_text

POINTER_TEMPLATE = resources.data_file("profile-pointer.yaml")
MARK = "# exprun's pointer profile"


@dataclass(frozen=True)
class Step:
    """One thing init did to one path: `wrote`, `updated`, `kept`, `made` (a folder) or `note` (left alone)."""

    action: str
    path: Path
    why: str = ""

    def line(self) -> str:
        return f"{self.action:<7} {self.path}" + (f"  ({self.why})" if self.why else "")


def names() -> list[str]:
    """The named profiles exprun ships (local, remote, slurm, slurm-jobs)."""
    folder = resources.profiles_dir()
    return sorted(p.name for p in folder.iterdir() if (p / "config.yaml").is_file())


def user_config_dir() -> Path:
    """Where Snakemake looks a profile name up after the current folder (its own platformdirs call)."""
    from snakemake.common import get_appdirs

    return Path(get_appdirs().user_config_dir)


def pointer_text(name: str) -> str:
    return Template(POINTER_TEMPLATE.read_text(encoding="utf-8")).substitute(name=name)


def is_pointer(folder: Path) -> bool:
    """A profile folder exprun wrote (its config.yaml starts with exprun's mark), free to rewrite."""
    try:
        return (folder / "config.yaml").read_text(encoding="utf-8").startswith(MARK)
    except (OSError, UnicodeDecodeError):
        return False


def write_pointers(root: Path, config_dir: Path | None = None) -> list[Step]:
    """A pointer for every profile name, in Snakemake's user config folder; what each name resolves to."""
    config_dir = user_config_dir() if config_dir is None else Path(config_dir)
    steps = []
    for name in names():
        if (Path(root) / name).exists():  # Snakemake looks in the current folder first (the pointer serves others)
            why = f"`--profile {name}` in this wiki finds this first; use --profile profiles/{name} in this wiki"
            steps.append(Step("note", Path(root) / name, why))
        steps.append(_pointer(name, config_dir))
    return steps


def _pointer(name: str, config_dir: Path) -> Step:
    folder = config_dir / name
    path_form = f"use --profile profiles/{name} in this wiki"
    if folder.exists() and not is_pointer(folder):
        return Step("note", folder, f"not exprun's: `--profile {name}` uses it; {path_form}")
    text = pointer_text(name)
    target = folder / "config.yaml"
    if target.is_file() and target.read_text(encoding="utf-8") == text:
        return Step("kept", target, f"`--profile {name}` reads the wiki's profiles/{name}")
    action = "updated" if target.exists() else "wrote"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, text)
    except OSError as exc:
        return Step("note", target, f"could not write it ({exc.strerror or exc}); {path_form}")
    return Step(action, target, f"`--profile {name}` reads the wiki's profiles/{name}")
