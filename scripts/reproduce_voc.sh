#!/usr/bin/env bash
# The published README's main experiment: support index, then FUNGI evaluation (Table 3, ViT-S/16,
# memory 1024 x 10^2). With VOC-Tiny the published code reports 46.80% mIoU.
#
# Settings come from the environment, published values by default:
#   DATA_DIR=./VOCSegmentation  MODEL=dino_vits16  WEIGHTS=(hub cache/download)  OUT_DIR=runs/voc
#   MEMORY_SIZE=102400  BANK_BATCH_SIZE=32  EVAL_BATCH_SIZE=4  IMAGE_SIZE=512  PATCH_SIZE=16  SEEDS=42 (several: once per seed)
#   LAYOUT=published (or true)  DEVICE=auto  EXTRA_ARGS="" (added to both commands)
#   NPROC=1 (processes, e.g. one per GPU)  TORCHRUN_ARGS="" (torchrun flags, several nodes; see _launch.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_published_run.sh
OUT_DIR=${OUT_DIR:-runs/voc}
MEMORY_SIZE=${MEMORY_SIZE:-102400}
RESULTS=()
for SEED in "${SEED_LIST[@]}"; do
  OUT=$(seed_dir "$OUT_DIR" "$SEED")
  mkdir -p "$OUT/support/index"

  launch create_memory_bank.py --seed "$SEED" --batch-size "$BANK_BATCH_SIZE" --input-size "$IMAGE_SIZE" \
      --data-dir "$DATA_DIR" --model "$MODEL" "${WEIGHTS_ARGS[@]}" --device "$DEVICE" \
      --memory-bank "$OUT/support/features.pth" --memory-bank-labels "$OUT/support/labels.pth" \
      --scann-index "$OUT/support/index" --memory-size "$MEMORY_SIZE" --patch-size "$PATCH_SIZE" \
      --augmentation-epochs 1 --num-neighbors 5 --num-leaves 512 --num-leaves-to-search 32 \
      --num-reordering-candidates 120 --anisotropic-quantization-threshold 0.2 --dimensions-per-block 4 "${EXTRA[@]}"

  launch eval_gradients.py --seed "$SEED" --use-fp16 --batch-size "$EVAL_BATCH_SIZE" --input-size "$IMAGE_SIZE" \
      --patch-size "$PATCH_SIZE" --gradients-layer backbone.blocks.11.attn.proj --data-dir "$DATA_DIR" \
      --model "$MODEL" "${WEIGHTS_ARGS[@]}" --device "$DEVICE" --num-negative-neighbors 2 \
      --memory-bank "$OUT/support/features.pth" --scann-index "$OUT/support/index" \
      --memory-size "$MEMORY_SIZE" --latent-dim 96 --negative-batch-percent 0.5 --temperature 0.02 \
      --num-neighbors 30 --num-leaves 512 --num-leaves-to-search 32 --num-reordering-candidates 120 \
      --anisotropic-quantization-threshold 0.2 --dimensions-per-block 4 \
      --negatives-layout "$LAYOUT" --output "$OUT/results_fungi.json" "${EXTRA[@]}"
  RESULTS+=("$OUT/results_fungi.json")
done

report_miou "${EXPECTED:-46.80}" "${RESULTS[@]}"
