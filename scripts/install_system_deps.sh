#!/usr/bin/env bash
# Debian packages exprun runs against for real: GNU screen (local deploys and the remote side),
# OpenSSH server (the tests' sshd on 127.0.0.1), Slurm + munge (the tests' single-node cluster), tmux (the
# tests' real terminal for `exprun watch`).
# Installs only what is missing; without root it says what to install and carries on,
# and the tests that need a missing service then skip (or fail under CI, see .ci/run).
set -euo pipefail

missing=()
command -v screen >/dev/null 2>&1 || missing+=(screen)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v slurmctld >/dev/null 2>&1 || missing+=(slurm-wlm munge)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "exprun: missing Debian packages: ${missing[*]} — install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
echo "exprun: installed ${missing[*]}"
