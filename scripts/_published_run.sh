# Shared by the reproduction scripts (sourced, not run): settings from the environment with the published
# values as defaults, and the closing line that puts our mIoU beside the published one.
PYTHON=${PYTHON:-python}
DATA_DIR=${DATA_DIR:-./VOCSegmentation}
MODEL=${MODEL:-dino_vits16}
SEED=${SEED:-42}
IMAGE_SIZE=${IMAGE_SIZE:-512}
PATCH_SIZE=${PATCH_SIZE:-16}
DEVICE=${DEVICE:-auto}
LAYOUT=${LAYOUT:-published}
BANK_BATCH_SIZE=${BANK_BATCH_SIZE:-32}
EVAL_BATCH_SIZE=${EVAL_BATCH_SIZE:-4}
WEIGHTS_ARGS=()
if [ -n "${WEIGHTS:-}" ]; then WEIGHTS_ARGS=(--weights "$WEIGHTS"); fi
read -r -a EXTRA <<< "${EXTRA_ARGS:-}"
source scripts/_launch.sh

report_miou() {  # report_miou RESULTS_JSON PUBLISHED_PERCENT
  $PYTHON - "$1" "$2" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))
sys.stdout.write(f"mIoU ours: {result['miou_percent']:.2f}%   published (VOC-Tiny): {float(sys.argv[2]):.2f}%   "
                 f"weights: {result['backbone']['weights_source']}\n")
PY
}
