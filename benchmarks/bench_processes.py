#!/usr/bin/env python
"""Images per second of create_memory_bank.py's extraction with 1 and more processes (torchrun).

    python benchmarks/bench_processes.py [--nproc 1 2] [--images 64] [--input-size 224] [--device auto]

Writes a generated VOC-sized dataset (375 x 500 images), then runs the memory bank script once per
process count on a random dino_vits16 (the cost of real weights), with the exact index so that only
extraction differs. Prints one JSON line per run: processes, images, the extraction stage's seconds (from
the job's own timer, as logged by the first process) and images per second, and the whole command's wall
time. On a CPU the processes share the cores: torchrun gives each one thread, so with 2 cores no speed-up
is expected. On GPUs, pass --device cuda and one process per GPU.
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


def run(nproc: int, data: Path, out: Path, args: argparse.Namespace) -> dict:
    launcher = [sys.executable]
    if nproc > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc)]
    command = [
        *launcher, str(ROOT / "create_memory_bank.py"), "--data-dir", str(data), "--model", args.model,
        "--weights", "random", "--input-size", str(args.input_size), "--batch-size", str(args.batch_size),
        "--device", args.device, "--index-backend", "exact", "--num-workers", str(args.num_workers),
        "--memory-bank", str(out / "features.pth"), "--memory-bank-labels", str(out / "labels.pth"),
        "--scann-index", str(out / "index"), "--work-dir", str(out / "work"),
    ]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-3000:])
        raise SystemExit(f"the run with {nproc} processes failed")
    seconds = float(re.search(r"features took ([0-9.]+) s", result.stderr).group(1))
    return {
        "processes": nproc,
        "images": args.images,
        "input_size": args.input_size,
        "device": args.device,
        "extraction_seconds": seconds,
        "images_per_second": round(args.images / seconds, 2),
        "wall_seconds": round(wall, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nproc", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--num-workers", type=int, default=1)
    parser.add_argument("--model", default="dino_vits16")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = make_synthetic_dataset(Path(folder) / "voc", num_train=args.images, num_val=1, size=(375, 500))
        for nproc in args.nproc:
            out = Path(folder) / f"out{nproc}"
            sys.stdout.write(json.dumps(run(nproc, data, out, args)) + "\n")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
