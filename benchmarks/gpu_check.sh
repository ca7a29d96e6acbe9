#!/usr/bin/env bash
# The GPU session's one prepared script: correctness on CUDA (bf16 and fp32 against CPU float32) and the
# speed figures (seconds per image, peak memory) at 224 and 512 px, CPU-free retrieval (exact backend).
# Usage on the device machine: bash benchmarks/gpu_check.sh [OUT_DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT=${1:-${OUT:-.}}
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
for SIZE in 224 512; do
  $PYTHON benchmarks/compare_devices.py --input-size $SIZE 2>>"$OUT/stderr.txt" | tee -a "$OUT/compare.jsonl"
done
for SIZE in 224 512; do
  for MODE in bank fungi; do
    for PRECISION in "" "--use-fp16"; do
      $PYTHON benchmarks/bench_features.py --mode $MODE --input-size $SIZE --images 32 --batch-size 4 \
          --device cuda $PRECISION --index-backend exact --num-workers 8 2>>"$OUT/stderr.txt" | tee -a "$OUT/bench.jsonl"
    done
  done
done
# sharded exact search over 2 GPUs (NCCL) against one GPU's search: identical neighbours, and the speed
if [ "$(nvidia-smi -L | wc -l)" -ge 2 ]; then
  $PYTHON -m torch.distributed.run --standalone --nproc-per-node 2 benchmarks/check_sharded_search.py \
      --device cuda --rows 2000000 --dim 768 2>>"$OUT/stderr.txt" | tee -a "$OUT/sharded.jsonl"
fi
