# Shared by the reproduction scripts (sourced, not run): settings from the environment with the published
# values as defaults, and the closing line that puts our mIoU beside the published one.
PYTHON=${PYTHON:-python}
DATA_DIR=${DATA_DIR:-./VOCSegmentation}
MODEL=${MODEL:-dino_vits16}
SEEDS=${SEEDS:-${SEED:-42}}  # several ("0 1 2"): the experiment once per seed, in OUT_DIR/seed<S>/
read -r -a SEED_LIST <<< "$SEEDS"
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

seed_dir() {  # seed_dir OUT_DIR SEED: OUT_DIR for one seed, OUT_DIR/seed<S> for several
  if [ "${#SEED_LIST[@]}" -gt 1 ]; then echo "$1/seed$2"; else echo "$1"; fi
}

report_miou() {  # report_miou PUBLISHED_PERCENT RESULTS_JSON...: ours (mean ± std over seeds), and the published
  # figure only beside the experiment it belongs to (Pascal VOC, dino_vits16, real weights)
  $PYTHON - "$@" <<'PY'
import json, statistics, sys
published, results = float(sys.argv[1]), [json.load(open(path)) for path in sys.argv[2:]]
values = [r["miou_percent"] for r in results]
ours = f"{values[0]:.2f}%" if len(values) == 1 else (
    f"{statistics.mean(values):.2f}% ± {statistics.stdev(values):.2f} over {len(values)} seeds")
first = results[0]
weights, model, dataset = first["backbone"]["weights_source"], first["backbone"]["model"], first["dataset"]
reasons = [why for why, wrong in (
    (f"the dataset is {first['dataset_label']}, not Pascal VOC", dataset != "voc"),
    (f"the model is {model}, not dino_vits16", model != "dino_vits16"),
    ("the weights are random", weights.startswith("random")),
) if wrong]
if reasons:
    beside = f"no published figure for this run ({'; '.join(reasons)})"
else:
    beside = (f"published: {published:.2f}% on VOC-Tiny (the published README's subset; on the full validation "
              "set compare with the paper's Table 3)")
sys.stdout.write(f"mIoU ours: {ours}   {beside}   weights: {weights}\n")
PY
}
