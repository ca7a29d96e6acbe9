#!/usr/bin/env python
"""Wall time of a small run end to end, as a user's ad-hoc try-out on a few images is timed.

    python benchmarks/bench_small_run.py [--index-backend scann exact] [--train 32] [--val 8] [--input-size 224]

Writes a generated VOC-layout dataset (375 x 500 images), then runs, per index backend, the two scripts as
scripts/demo.sh does: create_memory_bank.py (support bank and index) and eval_gradients.py --features fungi,
on a random dino_vits16 (the arithmetic of the real checkpoint) on this machine's device. Prints one JSON
line per backend: each command's wall time (Python start-up and imports included) and the stages its log
reports ("<stage> took <s> s"), so where the time goes can be read off.
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fungi_hb.data.synthetic import make_synthetic_dataset

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str]) -> tuple[float, dict[str, float]]:
    """(wall seconds, {stage: seconds}) of one script run; exits with its log tail when it fails."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, *command], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-3000:])
        raise SystemExit(f"{command[0]} failed")
    stages = {name: float(s) for name, s in re.findall(r"INFO \S+: (.+?) took ([0-9.]+) s", result.stderr)}
    return round(wall, 2), stages


def run(backend: str, data: Path, out: Path, args: argparse.Namespace) -> dict:
    common = [
        "--data-dir", str(data), "--model", "dino_vits16", "--weights", "random", "--input-size",
        str(args.input_size), "--num-workers", str(args.num_workers), "--seed", "42", "--index-backend", backend,
        "--num-leaves", "64", "--num-leaves-to-search", "16", "--memory-bank", str(out / "features.pth"),
        "--scann-index", str(out / "index"), "--work-dir", str(out / "work"), "--log-level", "INFO",
    ]  # fmt: skip
    bank = ["create_memory_bank.py", *common, "--batch-size", "16", "--memory-bank-labels", str(out / "labels.pth")]
    evaluate = ["eval_gradients.py", *common, "--batch-size", "4", "--features", "fungi", "--num-neighbors", "30",
                "--num-negative-neighbors", "2", "--output", str(out / "results.json")]  # fmt: skip
    bank_wall, bank_stages = timed(bank)
    eval_wall, eval_stages = timed(evaluate)
    miou = json.loads((out / "results.json").read_text())["miou_percent"]
    return {
        "index_backend": backend,
        "train_images": args.train,
        "val_images": args.val,
        "input_size": args.input_size,
        "bank_wall_seconds": bank_wall,
        "eval_wall_seconds": eval_wall,
        "bank_stages": bank_stages,
        "eval_stages": eval_stages,
        "miou_percent": miou,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-backend", nargs="+", default=["scann", "exact"])
    parser.add_argument("--train", type=int, default=32)
    parser.add_argument("--val", type=int, default=8)
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--num-workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = make_synthetic_dataset(Path(folder) / "voc", num_train=args.train, num_val=args.val, size=(375, 500))
        for backend in args.index_backend:
            sys.stdout.write(json.dumps(run(backend, data, Path(folder) / backend, args)) + "\n")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
