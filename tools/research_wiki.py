#!/usr/bin/env python3
"""Compatibility shim: the wiki's `research_wiki.py` verbs, served by exprun.

Agents call `python3 tools/research_wiki.py set-meta <page> <field> <value>`
with whatever python3 is first on PATH; when that interpreter lacks exprun,
re-run under the project's own virtual environment.
"""

import sys

try:
    from exprun.cli.wiki import main
except ImportError:
    from _exprun_env import reexec_under_venv

    reexec_under_venv()

if __name__ == "__main__":
    sys.exit(main())
