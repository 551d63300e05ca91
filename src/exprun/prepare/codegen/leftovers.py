"""Recipe leftovers: files the built-in recipe wrote that the code as it is now no longer uses.

When a generator or a person rewrites the program, the recipe's data.py, model.py and utils.py stay behind
unless something removes them — and then they are hashed into the approval, copied into the snapshot and
listed at the gate as if they were part of the program. A leftover is a Python file the built-in recipe
wrote, still byte for byte as it wrote it (the manifest's hash), that no other file of the folder refers to
(an `import`/`from` of its module, or its file name). Those are removed before the code is hashed (after a
generator's round, before the sanity run), and the gate names them. A file a person edited or added is never
removed, nor anything the kept code refers to; what is removed is exactly what a regeneration writes again.
"""

from __future__ import annotations

import re
from pathlib import Path

from exprun.core.files import atomic_write_json, read_json
from exprun.core.paths import Paths
from exprun.prepare.codegen import manifest
from exprun.trust import integrity


def find(folder: Path) -> list[str]:
    """The recipe's files that nothing kept in the folder refers to ([] while the program is all the recipe's)."""
    folder = Path(folder)
    ours, others = manifest.recipe_unchanged(folder)
    if not others:
        return []
    candidates = {rel for rel in ours if rel.endswith(".py")}
    kept = [rel for rel, _ in integrity.code_files(folder) if rel not in candidates]
    texts = {rel: _text(folder / rel) for rel, _ in integrity.code_files(folder)}
    grew = True
    while grew:  # a recipe file a kept file uses is kept, and so is what it uses in turn
        used = {rel for rel in candidates if any(_refers(texts[k], rel, k) for k in kept)}
        kept += sorted(used)
        candidates -= used
        grew = bool(used)
    return sorted(candidates)


def remove(paths: Paths) -> list[str]:
    """Remove the recipe's leftovers and record them in the state folder (the gate names them); the names.
    The manifest is left as it is: rewriting it would make the rules that read it run again."""
    found = find(paths.code_dir)
    for rel in found:
        (paths.code_dir / rel).unlink()
    if found:
        atomic_write_json(paths.leftovers, {"removed": sorted(set(removed(paths)) | set(found))})
    return found


def removed(paths: Paths) -> list[str]:
    """Recipe files removed as leftovers and still absent (a regeneration may have written one back)."""
    return [rel for rel in read_json(paths.leftovers).get("removed") or [] if not (paths.code_dir / rel).exists()]


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _refers(text: str, rel: str, source: str) -> bool:
    """Does the file `source` (its text) use `rel`: Python by an import or the file name as a string (a
    docstring that mentions data.py does not count), anything else (run.sh, config.yaml) by naming it."""
    name = re.escape(rel.rsplit("/", 1)[-1])
    if not source.endswith(".py"):
        return bool(re.search(rf"(?<![\w.-]){name}(?![\w-])", text))
    module = rel.removesuffix(".py").replace("/", ".")
    stem = re.escape(module.rsplit(".", 1)[-1])
    imports = (
        rf"^\s*(?:from\s+(?:[\w.]*\.)?{stem}\b|import\s+(?:[\w.]+\s*(?:as\s+\w+\s*)?,\s*)*(?:[\w.]*\.)?{stem}\b"
        rf"|from\s+[\w.]+\s+import\b.*\b{stem}\b)"
    )
    return bool(re.search(imports, text, re.M) or re.search(rf"[\"'/]{name}[\"']", text))
