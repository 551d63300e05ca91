#!/usr/bin/env bash
# A real coding-agent CLI for the test of the documented `codegen.command` example (aider, pinned): in its own
# venv, .venv-aider, so its many dependencies never meet exprun's. Idempotent; offline it says so and carries
# on, and the test then skips (or fails under CI, see .ci/run). Tests find it there or at $EXPRUN_TEST_AIDER.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-aider
VERSION=0.86.2
if [ -x "$VENV/bin/aider" ] && "$VENV/bin/aider" --version 2>/dev/null | grep -qx "aider $VERSION"; then
  touch "$VENV/bin/aider"  # newer than this script: make's target is met
  exit 0
fi
test -x "$VENV/bin/python" || python3 -m venv "$VENV"
if "$VENV/bin/python" -m pip install -q --retries 2 "aider-chat==$VERSION"; then
  touch "$VENV/bin/aider"
else
  echo "exprun: could not install aider-chat==$VERSION into $VENV (offline?); the aider test will skip" >&2
fi
