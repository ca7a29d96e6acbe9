#!/usr/bin/env bash
# Table 3 (Pascal VOC): dino_vits16 and dino_vitb16 x memory sizes 102400, 1024000, 10240000, plus the
# data-efficient setting (83 images, 8 augmentation epochs, unbounded memory, k = 90, temperature 0.1),
# each with the raw-feature ("embeddings") row and the FUNGI row, collected into OUT_DIR/table3.md and
# OUT_DIR/table3.csv. A rerun skips every cell whose results file exists (delete it to recompute).
#
# Environment (published values by default):
#   DATA_DIR=./VOCSegmentation  OUT_DIR=runs/table3  BACKBONES="dino_vits16 dino_vitb16"
#   MEMORY_SIZES="102400 1024000 10240000"  DATA_EFFICIENT=1 (0 leaves that column out)
#   BACKBONES: any hub names of docs/backbones.md (dinov2_vits14_reg, dinov3_vitb16, ...) or timm
#   ViT names; each runs at its own patch size, at the largest multiple of it up to IMAGE_SIZE
#   TRAIN_SAMPLES=83  AUGMENTATION_EPOCHS=8 (data-efficient)  IMAGE_SIZE=512  PATCH_SIZE (default: the model's)
#   SEEDS="42" (several, e.g. "0 1 2": every cell once per seed, in <cell>/seed<S>/; the table shows the
#   mean ± standard deviation and n; SEED=S is the same as SEEDS=S)
#   WEIGHTS_DIR: folder with the official checkpoints under their official names (dino_deitsmall16_pretrain.pth,
#   dinov2_vits14_reg4_pretrain.pth, dinov3_vits16_pretrain_lvd1689m-<hash>.pth, ...); default: the hub cache
#   WEIGHTS=random: random backbones (for a dry run)   DEVICE=auto   LAYER=backbone.blocks.-1.attn.proj (the last block's)
#   LAYOUT=published (FUNGI negatives; or true)
#   BANK_BATCH_SIZE=32 EVAL_BATCH_SIZE=4  NUM_LEAVES=512  NUM_LEAVES_TO_SEARCH=32  NUM_NEIGHBORS=30
#   FEATURES="embeddings fungi" (the rows: raw features and FUNGI; one of them alone runs only that row)
#   EXTRA_ARGS="" (added to every command)  TABLE_NAME (OUT_DIR/<name>.md and .csv; default: table3 for VOC,
#   else the dataset's name)
#   NPROC=1 (processes, e.g. one per GPU)  TORCHRUN_ARGS="" (torchrun flags, several nodes; see _launch.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
source scripts/_launch.sh
DATA_DIR=${DATA_DIR:-./VOCSegmentation}
OUT_DIR=${OUT_DIR:-runs/table3}
BACKBONES=${BACKBONES:-"dino_vits16 dino_vitb16"}
MEMORY_SIZES=${MEMORY_SIZES-"102400 1024000 10240000"}  # set but empty: no memory-size cells
SEEDS=${SEEDS:-${SEED:-42}}
read -r -a SEED_LIST <<< "$SEEDS"
cell_dir() {  # cell_dir BASE: BASE for one seed (the layout of earlier runs), BASE/seed<S> for several
  if [ "${#SEED_LIST[@]}" -gt 1 ]; then echo "$1/seed$SEED"; else echo "$1"; fi
}
read -r -a EXTRA <<< "${EXTRA_ARGS:-}"
AH=(--anisotropic-quantization-threshold 0.2 --dimensions-per-block 4)
LEAVES=(--num-leaves "${NUM_LEAVES:-512}" --num-leaves-to-search "${NUM_LEAVES_TO_SEARCH:-32}")

backbone_facts() {  # PATCH (the patch size of backbone $1) and GLOB (its official file's name, - if none)
  local facts
  facts=$($PYTHON scripts/backbone_facts.py "$1") || exit 2
  read -r PATCH GLOB <<< "$facts"
}

set_weights() {  # W=(the --weights argument for backbone $1), empty for the hub cache
  W=()
  if [ "${WEIGHTS:-}" = random ]; then W=(--weights random); return; fi
  if [ -n "${WEIGHTS:-}" ]; then
    echo "table3.sh runs several backbones: put their official checkpoints in WEIGHTS_DIR (WEIGHTS takes only 'random')" >&2
    exit 2
  fi
  if [ -n "${WEIGHTS_DIR:-}" ]; then
    if [ "$GLOB" = - ]; then
      echo "$1 has no official file name: leave WEIGHTS_DIR unset (timm's weights) or run it on its own with --weights" >&2
      exit 2
    fi
    local found
    shopt -s nullglob; found=("$WEIGHTS_DIR"/$GLOB); shopt -u nullglob
    if [ "${#found[@]}" -ne 1 ]; then
      echo "WEIGHTS_DIR=$WEIGHTS_DIR holds ${#found[@]} files named $GLOB for $1: it needs exactly one" >&2
      exit 2
    fi
    W=(--weights "${found[0]}")
  fi
}

# run_cell CELL_DIR "MEMORY ARGS" "EVALUATION ARGS": support index, then both rows, each skipped if done
run_cell() {
  local cell=$1
  read -r -d '' -a memory <<< "$2" || true  # -d '': every line (a multi-line string is not cut at its first)
  read -r -d '' -a evaluation <<< "$3" || true
  if [ ! -f "$cell/support/features.meta.json" ]; then
    mkdir -p "$cell/support/index"
    launch create_memory_bank.py "${BACKBONE[@]}" "${memory[@]}" "${LEAVES[@]}" "${AH[@]}" \
        --batch-size "${BANK_BATCH_SIZE:-32}" --num-neighbors 5 --num-reordering-candidates 120 \
        --memory-bank "$cell/support/features.pth" --memory-bank-labels "$cell/support/labels.pth" \
        --scann-index "$cell/support/index" "${EXTRA[@]}"
  fi
  for ROW in ${FEATURES:-embeddings fungi}; do
    if [ -f "$cell/results_$ROW.json" ]; then
      echo "skip $cell/results_$ROW.json (exists)"; continue
    fi
    launch eval_gradients.py "${BACKBONE[@]}" "${memory[@]}" "${evaluation[@]}" "${AH[@]}" --features "$ROW" \
        --use-fp16 --batch-size "${EVAL_BATCH_SIZE:-4}" --gradients-layer "${LAYER:-backbone.blocks.-1.attn.proj}" \
        --latent-dim 96 --num-negative-neighbors 2 --negative-batch-percent 0.5 --negatives-layout "${LAYOUT:-published}" \
        --memory-bank "$cell/support/features.pth" --scann-index "$cell/support/index" \
        --output "$cell/results_$ROW.json" "${EXTRA[@]}"
  done
}

for MODEL in $BACKBONES; do  # every backbone's name and weights checked before the first long run
  backbone_facts "$MODEL"
  set_weights "$MODEL"
done

for SEED in "${SEED_LIST[@]}"; do
  for MODEL in $BACKBONES; do
    backbone_facts "$MODEL"
    set_weights "$MODEL"
    SIZE_PX=$(( ${IMAGE_SIZE:-512} / PATCH * PATCH ))  # 512 for 16 px patches, 504 for DINOv2's 14 px ones
    if [ "$SIZE_PX" != "${IMAGE_SIZE:-512}" ]; then
      echo "$MODEL: ${SIZE_PX} px, the largest multiple of its $PATCH px patches up to IMAGE_SIZE=${IMAGE_SIZE:-512}"
    fi
    BACKBONE=(--model "$MODEL" "${W[@]}" --input-size "$SIZE_PX" --data-dir "$DATA_DIR" --seed "$SEED"
              --device "${DEVICE:-auto}" ${PATCH_SIZE:+--patch-size "$PATCH_SIZE"})
    for SIZE in $MEMORY_SIZES; do
      run_cell "$(cell_dir "$OUT_DIR/$MODEL/$SIZE")" "--memory-size $SIZE --augmentation-epochs 1" \
          "${LEAVES[*]} --num-reordering-candidates 120 --num-neighbors ${NUM_NEIGHBORS:-30} --temperature 0.02"
    done
    if [ "${DATA_EFFICIENT:-1}" = 1 ]; then
      run_cell "$(cell_dir "$OUT_DIR/$MODEL/efficient")" \
          "--num-train-samples ${TRAIN_SAMPLES:-83} --augmentation-epochs ${AUGMENTATION_EPOCHS:-8}" \
          "--num-leaves ${NUM_LEAVES:-512} --num-leaves-to-search 256 --num-reordering-candidates 1800
           --num-neighbors ${EFFICIENT_NUM_NEIGHBORS:-90} --temperature 0.1"
    fi
  done
done
$PYTHON scripts/collect_table.py "$OUT_DIR" ${TABLE_NAME:+--name "$TABLE_NAME"}
