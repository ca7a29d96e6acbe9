#!/usr/bin/env bash
# Peak host memory of the HummingBird evaluation at 512 px for 50 and 200 validation images: it must not
# grow with the number of validation images (predictions are scored batch by batch into a confusion
# matrix). Uses a random dino_vits16 and a generated dataset of VOC-sized (375 x 500) images.
# Usage: bash benchmarks/eval_peak_memory.sh [embeddings|fungi]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
FEATURES=${1:-embeddings}
WORK=$(mktemp -d)
DATA=$($PYTHON scripts/make_synthetic_data.py "$WORK/data" --num-train 16 --num-val 200 --height 375 --width 500 2>/dev/null)
head -n 50 "$DATA/sets/val.txt" > "$WORK/val50.txt"
COMMON=(--model dino_vits16 --weights random --input-size 512 --patch-size 16 --data-dir "$DATA" --num-workers 2
        --num-leaves 64 --num-leaves-to-search 16 --log-level WARNING)
$PYTHON create_memory_bank.py "${COMMON[@]}" --batch-size 8 --memory-bank "$WORK/s/features.pth" \
    --memory-bank-labels "$WORK/s/labels.pth" --scann-index "$WORK/s/index" 2>/dev/null
for LIST in "$WORK/val50.txt" "$DATA/sets/val.txt"; do
  N=$(wc -l < "$LIST")
  /usr/bin/time -v $PYTHON eval_gradients.py "${COMMON[@]}" --features "$FEATURES" --batch-size 4 \
      --memory-bank "$WORK/s/features.pth" --scann-index "$WORK/s/index" --val-list "$LIST" \
      --output "$WORK/r$N.json" 2> "$WORK/time$N.txt" >/dev/null
  RSS=$(grep "Maximum resident set size" "$WORK/time$N.txt" | awk '{print $NF}')
  WALL=$(grep "Elapsed (wall clock)" "$WORK/time$N.txt" | awk '{print $NF}')
  echo "features=$FEATURES val_images=$N peak_rss_mib=$((RSS / 1024)) wall=$WALL"
done
rm -rf "$WORK"
