#!/usr/bin/env bash
# Puts `exprun` and `snakemake` on the PATH without activating anything: a link to each in the venv's bin/
# from /usr/local/bin (root) or ~/.local/bin (anyone else), or from $EXPRUN_BIN_DIR when set. Both must be the
# venv's own: the workflow's Snakefile imports exprun, which another snakemake cannot. A file there that is not
# this venv's link is never replaced (a link to nothing is: it runs nothing); it is named, with the way out.
# Idempotent; `make install` runs it.
#   usage: scripts/link_commands.sh VENV
set -euo pipefail

venv="${1:?usage: $0 VENV (the virtual environment whose exprun and snakemake go on the PATH)}"
venv_bin="$(cd "$venv/bin" 2>/dev/null && pwd)" || { echo "exprun: no venv at $venv: run make install" >&2; exit 1; }
if [ -n "${EXPRUN_BIN_DIR:-}" ]; then
  dir="$EXPRUN_BIN_DIR"
elif [ "$(id -u)" = 0 ]; then
  dir=/usr/local/bin
else
  dir="$HOME/.local/bin"
fi
for cmd in exprun snakemake; do
  if [ ! -x "$venv_bin/$cmd" ]; then
    echo "exprun: $venv_bin/$cmd is missing: the install into $venv did not finish; run make install again" >&2
    exit 1
  fi
done
mkdir -p "$dir"
case ":$PATH:" in *":$dir:"*) on_path=1 ;; *) on_path=0 ;; esac

for cmd in exprun snakemake; do
  src="$venv_bin/$cmd"
  dest="$dir/$cmd"
  if [ -L "$dest" ] && { [ "$(readlink "$dest")" = "$src" ] || [ "$(readlink -f "$dest")" = "$(readlink -f "$src")" ]; }; then
    :  # this venv's link already
  elif [ -L "$dest" ] && [ ! -e "$dest" ]; then
    echo "exprun: $dest linked to $(readlink "$dest"), which is gone: replaced" >&2
    ln -sfn "$src" "$dest"
  elif [ -e "$dest" ] || [ -L "$dest" ]; then
    if [ -L "$dest" ]; then what="a link to $(readlink "$dest"), not to $src"; else what="a file, not a link to $src"; fi
    echo "exprun: left $dest alone ($what): \`$cmd\` in a new shell is not exprun's." \
      "Remove it and run make install again, or set EXPRUN_BIN_DIR to another folder on your PATH." >&2
    continue
  else
    ln -s "$src" "$dest"
  fi
  echo "exprun: $dest -> $src"
  found="$(command -v "$cmd" || true)"
  if [ "$on_path" = 1 ] && [ -n "$found" ] && [ "$(readlink -f "$found")" != "$(readlink -f "$src")" ]; then
    echo "exprun: \`$cmd\` on your PATH is $found, which comes before $dest: call $dest, or put $dir first." >&2
  fi
done
if [ "$on_path" = 0 ]; then
  hint=""
  [ "$dir" = "$HOME/.local/bin" ] && hint=" (Debian's ~/.profile puts it on the PATH of the next login shell)"
  echo "exprun: $dir is not on your PATH: add  export PATH=\"$dir:\$PATH\"  to ~/.bashrc$hint" >&2
fi
