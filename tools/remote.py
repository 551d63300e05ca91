#!/usr/bin/env python3
"""Compatibility shim: the wiki's `remote.py` verbs (status, gpu-status, sync-code, setup-env,
launch, check, tail-log, pull-results), served by exprun.

Agents call `python3 tools/remote.py <verb>` with whatever python3 is first on
PATH; when that interpreter lacks exprun, re-run under the project's own virtual environment.
"""

import sys

try:
    from exprun.cli.remote import main
except ImportError:
    from _exprun_env import reexec_under_venv

    reexec_under_venv()

if __name__ == "__main__":
    sys.exit(main())
