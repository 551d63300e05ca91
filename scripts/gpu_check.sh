#!/usr/bin/env bash
# GPU paths on a machine with a real NVIDIA GPU, without Snakemake: the same package steps the
# rules call (generate, dataset, review, sanity, approve, deploy under screen, collect --wait)
# on the bundled pytorch/GPU example, plus the free-GPU choice against a busy card.
# Usage (from the repo root): bash scripts/gpu_check.sh [OUT_DIR]
# Optional: wheels in .whl/ (installed to /tmp/site) and screen .debs in .deb/ (unpacked to /tmp/sroot)
# for machines that lack them.
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-/tmp/gpu_check}"
mkdir -p "$OUT"
export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if ls "$REPO"/.whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$REPO"/.whl/*.whl && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
if ! command -v screen >/dev/null && ls "$REPO"/.deb/*.deb >/dev/null 2>&1; then
  for deb in "$REPO"/.deb/*.deb; do dpkg -x "$deb" /tmp/sroot; done
  export PATH="/tmp/sroot/usr/bin:$PATH" LD_LIBRARY_PATH="/tmp/sroot/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export SCREENDIR=/tmp/screens; mkdir -p "$SCREENDIR"; chmod 700 "$SCREENDIR"
fi
SLUG=digits-cnn-gpu
W=/tmp/gpu-wiki
rm -rf "$W"; cp -r "$REPO/examples/wiki" "$W"; mkdir -p "$W/config"
printf 'collect:\n  poll_s: 2\n' > "$W/config/config.yaml"
step() { echo; echo "== $*"; }
exprun() { python3 -m exprun "$@" --root "$W"; }

step "nvidia-smi"; nvidia-smi --query-gpu=index,name,memory.used,memory.total,utilization.gpu --format=csv
step "exprun.machines.gpus.query"; python3 -c "from exprun.machines import gpus; print(gpus.query().describe())"
for s in generate dataset review sanity; do step "rule $s"; exprun rule "$s" "$SLUG" || exit 1; done
grep -m1 '^device=' "$W/experiments/state/$SLUG/sanity.log"
step "gate without approval (must refuse)"; exprun rule gate "$SLUG" && { echo "gpu_check: UNEXPECTED gate pass without approval"; exit 1; }
step "approve + deploy (claims a free GPU, CUDA_VISIBLE_DEVICES)"; exprun approve "$SLUG" && exprun deploy "$SLUG" || exit 1
python3 -c "import json; r=json.load(open('$W/experiments/state/$SLUG/run.json')); print('gpu_ids', r['gpu_ids'], 'env', r['env'])"
step "second claim while the card is taken (must refuse, listing usage)"
python3 - "$W" <<'PY'
import sys, time, subprocess
from pathlib import Path
from exprun.machines import gpus
from exprun.core.errors import LaunchError
holder = subprocess.Popen([sys.executable, "-c", "import torch,time; x=torch.empty(2**30, device='cuda'); print('holding', flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
holder.stdout.readline()
try:
    status = 1
    with gpus.claim(1, 500, Path(sys.argv[1]) / "locks2") as ids:
        print("UNEXPECTED: claimed", ids)
        status = 1
except LaunchError as exc:
    print("refused:", exc)
    status = 0
holder.kill()
sys.exit(status)
PY
[ $? -eq 0 ] || { echo "gpu_check: FAILED (a busy GPU was claimed)"; exit 1; }
step "collect --wait"; exprun collect "$SLUG" --wait || exit 1
cp "$W/logs/exp-$SLUG.log" "$W/experiments/state/$SLUG/sanity.json" "$W/experiments/state/$SLUG/RUN_REPORT.md" "$W/wiki/experiments/$SLUG.md" "$OUT/" 2>/dev/null
grep -m2 'device=' "$W/logs/exp-$SLUG.log"
echo "gpu_check: OK"
