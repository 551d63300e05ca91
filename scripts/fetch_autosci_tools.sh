#!/usr/bin/env bash
# Fetch the AutoSci wiki's own frontmatter tool (tools/research_wiki.py and the runtime/ files it imports) at one
# pinned commit, for the tests that run it on pages exprun wrote (tests/integration/test_autosci_tool.py).
#
# The files are public code of another project: they are fetched at test time into an ignored folder and never
# committed here. Sources, first that works:
#   $AUTOSCI_GIT_DIR   a local clone (or bare git dir) of github.com/skyllwt/AutoSci holding the pinned commit
#   the network        https://raw.githubusercontent.com/skyllwt/AutoSci/<commit>/<path>
# Every file is checked against the SHA-256 recorded below; nothing is left in DEST unless all of them match.
#
# Usage: scripts/fetch_autosci_tools.sh DEST      (exit 0: DEST holds the files; exit 1: why not, on stderr)
set -euo pipefail

COMMIT=6648f4cf0bd0a6450bef610029a3191103dcd431
FILES=(
  "38d5b8a6006266141105c723f349f438c40cfb12fe42a500b4d5d7cbd006836c tools/research_wiki.py"
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 runtime/__init__.py"
  "7f8ad7fbce4c615aac7331d76c554bb31855483ef411b0d0421fb3faa8d84852 runtime/loader.py"
  "7a606dd763d5ccc451bd7e10f9de79816c69d3c7a81f346e823fe9b6920b3999 runtime/schema/conventions.yaml"
  "7a2deab7988de6c095d54f3b944d848d3fe4ef2e6b1e77c6537b74728307530c runtime/schema/edges.yaml"
  "d73df817b222f73a5470606da093d7dba234ba28a1b0c1766040971a0059052d runtime/schema/entities.yaml"
  "387bac5b4efb3685c1bac07c1f1da5d056cad667d97a7fcf477d04bf050f0da4 runtime/schema/xref.yaml"
  "507e06c6e8fdd45aeca06387b87fa54b2aa189f2a562f9471aad90adc55be48a runtime/policy/writers.yaml"
)

dest=${1:?usage: fetch_autosci_tools.sh DEST}
if [ -f "$dest/.complete" ] && [ "$(cat "$dest/.complete")" = "$COMMIT" ]; then
  exit 0
fi
mkdir -p "$(dirname "$dest")"
work=$(mktemp -d "${dest%/}.partial.XXXXXX")
trap 'rm -rf "$work"' EXIT

fetch_one() {  # path -> its bytes on stdout
  if [ -n "${AUTOSCI_GIT_DIR:-}" ]; then
    git --git-dir="$AUTOSCI_GIT_DIR" show "$COMMIT:$1" 2>/dev/null && return 0
    git -C "$AUTOSCI_GIT_DIR" show "$COMMIT:$1" 2>/dev/null && return 0
  fi
  curl -fsSL --max-time 30 "https://raw.githubusercontent.com/skyllwt/AutoSci/$COMMIT/$1"
}

for entry in "${FILES[@]}"; do
  sum=${entry%% *}
  path=${entry#* }
  mkdir -p "$work/$(dirname "$path")"
  if ! fetch_one "$path" >"$work/$path"; then
    echo "cannot fetch $path of skyllwt/AutoSci@${COMMIT:0:12} (no network to raw.githubusercontent.com," \
      "and \$AUTOSCI_GIT_DIR does not hold the commit: set it to a clone of github.com/skyllwt/AutoSci)" >&2
    exit 1
  fi
  got=$(sha256sum "$work/$path" | cut -c1-64)
  if [ "$got" != "$sum" ]; then
    echo "$path of skyllwt/AutoSci@${COMMIT:0:12} has SHA-256 $got, expected $sum; nothing kept" >&2
    exit 1
  fi
done
echo "$COMMIT" >"$work/.complete"
rm -rf "$dest"
mv "$work" "$dest"
trap - EXIT
