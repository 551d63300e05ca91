#!/usr/bin/env bash
# Debian packages exprun runs against for real, in two sets:
#   user  (make install): GNU screen, which local deploys run under (and the remote side too).
#   test  (make dev / make test): OpenSSH server (the tests' sshd on 127.0.0.1) and Slurm + munge (the tests'
#         single-node cluster), rsync (the tests compare sync.include matching with real rsync),
#         tmux (the tests' real terminal for `exprun watch`),
#         chromium (the dashboard's test in a real headless browser), a Java runtime (the W3C's HTML checker
#         the dashboard's pages are validated with). A user who only runs experiments never gets these.
# Installs only what is missing; without root it says what to install and carries on,
# and the tests that need a missing service then skip (or fail under CI, see .ci/run).
set -euo pipefail

set_name="${1:-}"
missing=()
case "$set_name" in
  user)
    command -v screen >/dev/null 2>&1 || missing+=(screen)
    ;;
  test)
    [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
    command -v slurmctld >/dev/null 2>&1 || missing+=(slurm-wlm munge)
    command -v rsync >/dev/null 2>&1 || missing+=(rsync)
    command -v tmux >/dev/null 2>&1 || missing+=(tmux)
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
    ;;
  *)
    echo "usage: $0 user|test  (user: what running experiments needs; test: the test suite's services)" >&2
    exit 2
    ;;
esac

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "exprun: missing Debian packages: ${missing[*]} — install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
echo "exprun: installed ${missing[*]}"
