#!/usr/bin/env bash
# Demo: the whole pipeline on a generated dataset with a RANDOMLY INITIALISED dino_vits16 (no download,
# no dataset needed), on the CPU in about a minute: support index, the raw-feature baseline and FUNGI.
# The numbers say nothing about DINO; they show the tool working end to end.
# Usage: bash scripts/demo.sh [OUT_DIR]   (default: demo_output/)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
OUT=${1:-demo_output}
DATA=$($PYTHON scripts/make_synthetic_voc.py "$OUT/data" --num-train 32 --num-val 8)
COMMON=(--model dino_vits16 --weights random --input-size 224 --patch-size 16 --data-dir "$DATA"
        --num-workers 2 --seed 42 --num-leaves 64 --num-leaves-to-search 16)
$PYTHON create_memory_bank.py "${COMMON[@]}" --batch-size 16 \
    --memory-bank "$OUT/support/features.pth" --memory-bank-labels "$OUT/support/labels.pth" \
    --scann-index "$OUT/support/index" --num-neighbors 5
for FEATURES in embeddings fungi; do
  $PYTHON eval_gradients.py "${COMMON[@]}" --batch-size 4 --features $FEATURES \
      --memory-bank "$OUT/support/features.pth" --scann-index "$OUT/support/index" \
      --num-negative-neighbors 2 --negative-batch-percent 0.5 --temperature 0.02 --num-neighbors 30 \
      --output "$OUT/results_$FEATURES.json"
done
echo
echo "Demo done. Support index: $OUT/support/  Results: $OUT/results_embeddings.json, $OUT/results_fungi.json"
