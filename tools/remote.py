#!/usr/bin/env python3
"""Compatibility shim: the wiki's `remote.py` verbs (status, gpu-status, sync-code, setup-env,
launch, check, tail-log, pull-results), served by exprun.

Agents call `python3 tools/remote.py <verb>` with whatever python3 is first on
PATH; when that interpreter lacks exprun, re-run under the project's own virtual environment.
"""

import os
import sys
from pathlib import Path

try:
    from exprun.cli.remote import main
except ImportError:
    venv = Path(__file__).resolve().parent.parent / ".venv"
    venv_python = venv / "bin" / "python"
    # Compare prefixes, not interpreters: .venv/bin/python is a symlink to the base python3.
    if venv_python.exists() and Path(sys.prefix).resolve() != venv.resolve():
        os.execv(str(venv_python), [str(venv_python), *sys.argv])
    print('{"status": "error", "message": "exprun is not installed: run `make install` in the exprun folder"}')
    sys.exit(1)

if __name__ == "__main__":
    sys.exit(main())
