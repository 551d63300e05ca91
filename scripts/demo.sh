#!/usr/bin/env bash
# The README's main command: the bundled example wiki, end to end, with real training on the CPU.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO="${EXPRUN_DEMO_DIR:-$REPO/demo}"
SLUG=digits-mlp-vs-logreg
SNAKEMAKE=("$REPO/.venv/bin/snakemake" --snakefile "$REPO/Snakefile" --profile "$REPO/profiles/local" --directory "$DEMO")

rm -rf "$DEMO"
cp -r "$REPO/examples/wiki" "$DEMO"
mkdir -p "$DEMO/config"
printf '# wiki-root settings layer: check the demo run every 5 s instead of 30 s\ncollect:\n  poll_s: 5\n' > "$DEMO/config/config.yaml"
echo "== exprun demo: scratch wiki root $DEMO"

echo "== 1/3 snakemake deploy_$SLUG: generate code, check the dataset, sanity run; then the approval gate stops it"
if "${SNAKEMAKE[@]}" "deploy_$SLUG"; then
  echo "demo: the gate should have stopped the first deploy" >&2
  exit 1
fi

echo
echo "== 2/3 The demo approves on your behalf because this is the bundled example."
echo "       For your own experiments, review the checklist above and run: exprun approve <slug>"
"$REPO/.venv/bin/exprun" approve "$SLUG" --root "$DEMO"

echo
echo "== 3/3 snakemake full_$SLUG: deploy under screen, wait for it to end, collect"
"${SNAKEMAKE[@]}" "full_$SLUG"

echo
cat "$DEMO/experiments/state/$SLUG/RUN_REPORT.md"
echo "Updated page: $DEMO/wiki/experiments/$SLUG.md"

ABLATION=digits-mlp-ablation
echo
echo "== Arms: $ABLATION — the full MLP and one factor removed at a time, 3 arms × 3 seeds, 2 tasks at a time"
printf 'parallel: 2\n' >> "$DEMO/config/config.yaml"
if "${SNAKEMAKE[@]}" "deploy_$ABLATION" > "$DEMO/ablation-gate.log" 2>&1; then
  echo "demo: the gate should have stopped the first deploy" >&2
  exit 1
fi
grep -A4 "     Arms" "$DEMO/ablation-gate.log" || true
"$REPO/.venv/bin/exprun" approve "$ABLATION" --root "$DEMO"
"${SNAKEMAKE[@]}" "full_$ABLATION" > "$DEMO/ablation-full.log" 2>&1 || { tail -40 "$DEMO/ablation-full.log" >&2; exit 1; }
echo
cat "$DEMO/experiments/state/$ABLATION/RUN_REPORT.md"
echo "Updated page: $DEMO/wiki/experiments/$ABLATION.md"
