#!/usr/bin/env bash
# Table 3 (Pascal VOC): dino_vits16 and dino_vitb16 x memory sizes 102400, 1024000, 10240000, each with
# the raw-feature ("embeddings") row and the FUNGI row, collected into OUT_DIR/table3.md and .csv.
# A rerun skips every cell whose results file exists (delete it to recompute).
#
# Environment (published values by default):
#   DATA_DIR=./VOCSegmentation  OUT_DIR=runs/table3  BACKBONES="dino_vits16 dino_vitb16"
#   MEMORY_SIZES="102400 1024000 10240000"  IMAGE_SIZE=512  PATCH_SIZE=16  SEED=42  DEVICE=auto
#   WEIGHTS_DIR: folder with the official checkpoints (<stem>.pth); default: the torch hub cache
#   WEIGHTS=random: random backbones (for a dry run)   LAYER=backbone.blocks.11.attn.proj
#   BANK_BATCH_SIZE=32 EVAL_BATCH_SIZE=4  NUM_LEAVES=512 NUM_LEAVES_TO_SEARCH=32 NUM_NEIGHBORS=30
#   EXTRA_ARGS="" (added to every command)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
DATA_DIR=${DATA_DIR:-./VOCSegmentation}
OUT_DIR=${OUT_DIR:-runs/table3}
BACKBONES=${BACKBONES:-"dino_vits16 dino_vitb16"}
MEMORY_SIZES=${MEMORY_SIZES:-"102400 1024000 10240000"}
SEED=${SEED:-42}
read -r -a EXTRA <<< "${EXTRA_ARGS:-}"
INDEX=(--num-leaves "${NUM_LEAVES:-512}" --num-leaves-to-search "${NUM_LEAVES_TO_SEARCH:-32}"
       --num-reordering-candidates 120 --anisotropic-quantization-threshold 0.2 --dimensions-per-block 4)

weights_for() {  # the --weights argument for a backbone, if any
  if [ "${WEIGHTS:-}" = random ]; then echo "--weights random"; return; fi
  if [ -n "${WEIGHTS_DIR:-}" ]; then
    case $1 in
      dino_vits16) echo "--weights $WEIGHTS_DIR/dino_deitsmall16_pretrain.pth" ;;
      dino_vits8) echo "--weights $WEIGHTS_DIR/dino_deitsmall8_pretrain.pth" ;;
      dino_vitb16) echo "--weights $WEIGHTS_DIR/dino_vitbase16_pretrain.pth" ;;
      dino_vitb8) echo "--weights $WEIGHTS_DIR/dino_vitbase8_pretrain.pth" ;;
    esac
  fi
}

for MODEL in $BACKBONES; do
  read -r -a W <<< "$(weights_for "$MODEL")"
  BACKBONE=(--model "$MODEL" "${W[@]}" --input-size "${IMAGE_SIZE:-512}" --patch-size "${PATCH_SIZE:-16}"
            --data-dir "$DATA_DIR" --seed "$SEED" --device "${DEVICE:-auto}")
  for SIZE in $MEMORY_SIZES; do
    CELL="$OUT_DIR/$MODEL/$SIZE"
    if [ ! -f "$CELL/support/features.meta.json" ] || [ ! -f "$CELL/support/index/fungi_index.json" ]; then
      mkdir -p "$CELL/support/index"
      $PYTHON create_memory_bank.py "${BACKBONE[@]}" "${INDEX[@]}" --batch-size "${BANK_BATCH_SIZE:-32}" \
          --memory-size "$SIZE" --augmentation-epochs 1 --num-neighbors 5 \
          --memory-bank "$CELL/support/features.pth" --memory-bank-labels "$CELL/support/labels.pth" \
          --scann-index "$CELL/support/index" "${EXTRA[@]}"
    fi
    for FEATURES in embeddings fungi; do
      if [ -f "$CELL/results_$FEATURES.json" ]; then
        echo "skip $CELL/results_$FEATURES.json (exists)"; continue
      fi
      $PYTHON eval_gradients.py "${BACKBONE[@]}" "${INDEX[@]}" --features $FEATURES --use-fp16 \
          --batch-size "${EVAL_BATCH_SIZE:-4}" --memory-size "$SIZE" --num-neighbors "${NUM_NEIGHBORS:-30}" \
          --temperature 0.02 --gradients-layer "${LAYER:-backbone.blocks.11.attn.proj}" --latent-dim 96 \
          --num-negative-neighbors 2 --negative-batch-percent 0.5 \
          --memory-bank "$CELL/support/features.pth" --scann-index "$CELL/support/index" \
          --output "$CELL/results_$FEATURES.json" "${EXTRA[@]}"
    done
  done
done
$PYTHON scripts/collect_table.py "$OUT_DIR"
