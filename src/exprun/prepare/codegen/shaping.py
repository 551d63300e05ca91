"""The settings that shape the generated code, and only those.

The generate step's rule carries them as its params: under Snakemake's default rerun triggers (the profile
forgotten once, `--cores 1`) a change of one of them writes the code again, and a change of anything else —
where the run goes, how often collect polls, another profile's settings — leaves the code and its manifest alone.
(With the profiles' `rerun-triggers: mtime` no setting reruns a step; `exprun regenerate <slug>` does it.)
tests/unit/test_code_settings.py changes every setting one at a time to keep this list whole.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

CODE_SHAPING: tuple[tuple[str, ...], ...] = (
    ("codegen", "seeds"),  # the seeds config.yaml lists when the page names none
    ("codegen", "command"),  # a coding agent writes the code ...
    ("codegen", "llm", "base_url"),  # ... or an LLM, which one and how
    ("codegen", "llm", "model"),
    ("codegen", "llm", "temperature"),
    ("codegen", "llm", "max_tokens"),
    ("python",),  # the interpreter run.sh starts
    ("env_activate",),  # the line run.sh runs first
)


def code_settings(settings: Mapping[str, Any]) -> str:
    """The code-shaping settings of the validated settings (Snakemake's `config`) as one short JSON word."""
    picked: dict[str, Any] = {}
    for path in CODE_SHAPING:
        value: Any = settings
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        picked[".".join(path)] = list(value) if isinstance(value, (list, tuple)) else value
    return json.dumps(picked, sort_keys=True, separators=(",", ":"))
