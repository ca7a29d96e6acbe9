#!/usr/bin/env bash
# Demo: the whole pipeline on a generated dataset with a RANDOMLY INITIALISED dino_vits16 (no download,
# no dataset needed), on the CPU in about a minute: support index, the raw-feature baseline and FUNGI.
# The numbers say nothing about DINO; they show the tool working end to end.
# Usage: bash scripts/demo.sh [OUT_DIR]   (default: demo_output/)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
OUT=${1:-demo_output}
DATA=$($PYTHON scripts/make_synthetic_data.py "$OUT/data" --num-train 32 --num-val 8)
COMMON=(--model dino_vits16 --weights random --input-size 224 --patch-size 16 --data-dir "$DATA"
        --num-workers 2 --seed 42 --num-leaves 64 --num-leaves-to-search 16)
$PYTHON create_memory_bank.py "${COMMON[@]}" --batch-size 16 \
    --memory-bank "$OUT/support/features.pth" --memory-bank-labels "$OUT/support/labels.pth" \
    --scann-index "$OUT/support/index" --num-neighbors 5
for FEATURES in embeddings fungi; do
  $PYTHON eval_gradients.py "${COMMON[@]}" --batch-size 4 --features $FEATURES \
      --memory-bank "$OUT/support/features.pth" --scann-index "$OUT/support/index" \
      --num-negative-neighbors 2 --negative-batch-percent 0.5 --temperature 0.02 --num-neighbors 30 \
      --output "$OUT/results_$FEATURES.json" --save-predictions "$OUT/pictures_$FEATURES"
done
$PYTHON - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
print(f"\nDemo done (random dino_vits16: the numbers show the tool working, not DINO's quality).\n")
print(f"| features   | mIoU   | pictures (image, ground truth, prediction) |")
print(f"|------------|--------|---------------------------------------------|")
for features in ("embeddings", "fungi"):
    result = json.load(open(f"{out}/results_{features}.json"))
    print(f"| {features:<10} | {result['miou_percent']:5.2f}% | {out}/pictures_{features}/ |")
print(f"\nSupport index: {out}/support/   Results: {out}/results_embeddings.json, {out}/results_fungi.json")
PY
