#!/usr/bin/env python
"""How much ScaNN's approximate search moves the mIoU: one evaluation memory, scored with ScaNN (the
paper's settings, or those given) and with exact search.

    python benchmarks/bench_search_miou.py [--model dino_vits16] [--weights random|FILE] [--input-size 224]
        [--num-train 64] [--num-val 16] [--features embeddings|fungi] [--data-dir DIR] [--out DIR]

Builds a support bank and an evaluation memory once (on a generated dataset unless --data-dir is given),
then evaluates that same saved memory with --index-backend scann and exact, and prints one line per
backend: mIoU and the difference. With random weights the figure says how far the approximation moves
the score on this memory, nothing about DINO's features.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / script), *args], check=True, cwd=ROOT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dino_vits16")
    parser.add_argument("--weights", default="random")
    parser.add_argument("--input-size", default="224")
    parser.add_argument("--num-train", default="64")
    parser.add_argument("--num-val", default="16")
    parser.add_argument("--features", default="embeddings", choices=("embeddings", "fungi"))
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--index-args", default="--num-leaves 64 --num-leaves-to-search 16", help="ScaNN flags")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-search-"))
    data = args.data_dir
    if data is None:
        made = subprocess.run(
            [sys.executable, str(ROOT / "scripts/make_synthetic_data.py"), str(out / "data"),
             "--num-train", args.num_train, "--num-val", args.num_val],
            check=True, capture_output=True, text=True, cwd=ROOT,
        )  # fmt: skip
        data = Path(made.stdout.strip())
    common = ["--model", args.model, "--weights", args.weights, "--input-size", args.input_size, "--data-dir",
              str(data), *args.index_args.split()]  # fmt: skip
    run("create_memory_bank.py", *common, "--output-dir", str(out), "--num-neighbors", "5")
    memory = out / "memory"
    results = {}
    for backend in ("scann", "exact"):
        reuse = ["--load-eval-memory", str(memory)] if memory.exists() else ["--save-eval-memory", str(memory)]
        output = out / f"results_{backend}.json"
        run("eval_gradients.py", *common, "--output-dir", str(out), "--features", args.features,
            "--num-neighbors", "30", "--index-backend", backend, "--output", str(output), *reuse)  # fmt: skip
        results[backend] = json.loads(output.read_text())["miou_percent"]
    for backend, miou in results.items():
        sys.stdout.write(f"{backend:6s} mIoU {miou:6.2f}%  ({miou - results['exact']:+.2f} against exact)\n")
    sys.stdout.write(f"memory {memory}, {args.features} features, {args.model} ({args.weights})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
