"""The evidence of a completed experiment: the seed files collect counted, archived read-only with their hashes.

Collect fixes the counted set before it writes the page: the exact bytes it read are copied to
`experiments/state/<slug>/attempts/<n>/results/` (read-only) and their SHA-256 go into collected.json. A
later overwrite of results/<slug>/ then cannot change what a completed page rests on, and `exprun status`
says when the live files no longer match it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from exprun.core.files import atomic_write_many, read_json
from exprun.core.paths import Paths


def archive(paths: Paths, attempt: int, raw: dict[str, bytes]) -> dict:
    """Write the counted files' bytes (relative to results/<slug>/) into the attempt's folder, read-only;
    what collected.json records of them."""
    folder = paths.state_attempts / str(int(attempt)) / "results"
    # read-only from the start; a collect finished again after an interruption replaces them with the same bytes
    atomic_write_many({folder / rel: data for rel, data in sorted(raw.items())}, mode=0o444)
    hashes = {rel: hashlib.sha256(data).hexdigest() for rel, data in sorted(raw.items())}
    return {"folder": folder.relative_to(paths.root).as_posix(), "files": hashes}


def mismatches(slug: str, root: Path) -> list[str]:
    """The live result files (results/<slug>/…) that no longer hold the bytes collect counted."""
    paths = Paths(slug, root)
    recorded = (read_json(paths.collected).get("evidence") or {}).get("files") or {}
    changed = []
    for rel, digest in sorted(recorded.items()):
        live = paths.results_dir / rel
        try:
            same = hashlib.sha256(live.read_bytes()).hexdigest() == digest
        except OSError:
            same = False
        if not same:
            changed.append(live.relative_to(paths.root).as_posix())
    return changed
