"""Shared by the tools/ shims: make `import exprun` work under whatever python3 an agent calls.

When the calling interpreter lacks exprun, re-run the same command under the project's own
virtual environment; without one, answer in the tools' JSON error shape.
"""

import os
import sys
from pathlib import Path

VENV = Path(__file__).resolve().parent.parent / ".venv"


def reexec_under_venv() -> None:
    venv_python = VENV / "bin" / "python"
    # Compare prefixes, not interpreters: .venv/bin/python is a symlink to the base python3.
    if venv_python.exists() and Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(str(venv_python), [str(venv_python), *sys.argv])
    print('{"status": "error", "message": "exprun is not installed: run `make install` in the exprun folder"}')
    sys.exit(1)
