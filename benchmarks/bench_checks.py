#!/usr/bin/env python
"""Cost of the up-front file check (every image decoded in full, every mask read and validated) on
VOC-sized files: a generated dataset of N images of 375 x 500 (JPEG) with palette PNG masks.

    python benchmarks/bench_checks.py [--images 1000] [--workers 2]

Prints one JSON line: seconds for a first check (nothing cached), seconds for a rerun (everything
cached), and milliseconds per image, to set beside feature extraction (0.51 s per image for a memory
bank at 512 px on the same 2-core CPU, docs/performance.md).
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from fungi_hb.data.checks import check_samples
from fungi_hb.data.config import DataConfig
from fungi_hb.data.datasets.registry import open_dataset
from fungi_hb.data.samples import train_samples
from fungi_hb.data.synthetic import make_synthetic_dataset


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["XDG_CACHE_HOME"] = str(Path(folder) / "cache")  # start with nothing cached
        root = make_synthetic_dataset(Path(folder) / "voc", num_train=args.images, num_val=1, size=(375, 500))
        dataset = open_dataset(root)
        samples = train_samples(dataset, DataConfig(root), seed=0)
        timings = []
        for _ in range(2):
            start = time.perf_counter()
            check_samples(samples, dataset.classes, "training", args.workers)
            timings.append(time.perf_counter() - start)
    result = {
        "images": len(samples),
        "workers": args.workers,
        "first_check_seconds": round(timings[0], 2),
        "rerun_seconds": round(timings[1], 3),
        "ms_per_image": round(1000 * timings[0] / len(samples), 2),
    }
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
