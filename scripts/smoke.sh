#!/usr/bin/env bash
# Smoke run: the whole pipeline (support index -> FUNGI evaluation -> results file) on a tiny generated
# dataset with a tiny random backbone, through the two scripts as a user runs them. Seconds on a CPU.
# Usage: bash scripts/smoke.sh [OUT_DIR]   (without OUT_DIR: a temporary folder, removed at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
if [ -n "${1:-}" ]; then
  OUT=$1
else
  OUT=$(mktemp -d)
  trap 'rm -rf "$OUT"' EXIT
fi
DATA=$($PYTHON scripts/make_synthetic_data.py "$OUT/data" --num-train 12 --num-val 4 --height 48 --width 64)
# All 8 leaves are searched: a memory of ~100 rows has too few points per leaf for a partial search.
COMMON=(--model vit_tiny_patch16_224 --weights random --input-size 64 --patch-size 16 --data-dir "$DATA"
        --num-workers 0 --seed 42 --num-leaves 8 --num-leaves-to-search 8)
mkdir -p "$OUT/support/index"
$PYTHON create_memory_bank.py "${COMMON[@]}" --batch-size 8 --memory-size 96 \
    --memory-bank "$OUT/support/features.pth" --memory-bank-labels "$OUT/support/labels.pth" \
    --scann-index "$OUT/support/index" --num-neighbors 5
$PYTHON eval_gradients.py "${COMMON[@]}" --batch-size 4 --memory-size 96 --use-fp16 \
    --gradients-layer backbone.blocks.11.attn.proj --n-neighbors 2 --latent-dim 96 \
    --memory-bank "$OUT/support/features.pth" --scann-index "$OUT/support/index" \
    --negative-batch-percent 0.5 --temperature 0.02 --num-neighbors 10 --output "$OUT/results.json" \
    --save-predictions "$OUT/pictures" --num-predictions 2
test -s "$OUT/results.json"
test "$(ls "$OUT"/pictures/*.png | wc -l)" = 2 && test -s "$OUT/pictures/index.html"
if [ -n "${1:-}" ]; then echo "smoke run OK: $OUT/results.json"; else echo "smoke run OK"; fi
