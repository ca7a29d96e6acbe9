#!/usr/bin/env bash
# The Table 3 protocol on another dataset: the same backbones, memory sizes and settings as scripts/table3.sh,
# the raw-feature and FUNGI rows of each cell, collected into OUT_DIR/<DATASET>.md and .csv.
#
#   DATASET=cityscapes DATA_DIR=./cityscapes bash scripts/dataset_table.sh
#
# DATASET: ade20k, cityscapes, cocostuff, nyuv2, depth, generic or voc (the name --dataset takes). Environment as
# scripts/table3.sh, with these defaults instead: OUT_DIR=runs/<DATASET>, DATA_EFFICIENT=0, TABLE_NAME=<DATASET>;
# CLASSES=things|stuff|fine scores COCO-Stuff another way (coarse, 27 supercategories, by default).
# Depth datasets give RMSE in metres instead of mIoU (lower is better).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATASET:?set DATASET to the dataset of DATA_DIR (ade20k, cityscapes, cocostuff, nyuv2, depth, ...)}"
export DATA_DIR=${DATA_DIR:?set DATA_DIR to the folder (or .tar archive) of the dataset}
export OUT_DIR=${OUT_DIR:-runs/$DATASET}
export DATA_EFFICIENT=${DATA_EFFICIENT:-0}
export TABLE_NAME=${TABLE_NAME:-$DATASET}
EXTRA_ARGS="--dataset $DATASET ${CLASSES:+--classes $CLASSES} ${EXTRA_ARGS:-}"
export EXTRA_ARGS
exec scripts/table3.sh
