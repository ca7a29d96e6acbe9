#!/usr/bin/env python
"""Reading a dataset from a folder, a .tar and a .tar.gz: what the archive costs.

    python benchmarks/bench_archive.py [--images 200] [--workers 0]

Writes a generated VOC-layout dataset (375 x 500 JPEG images and PNG masks), packs it as a .tar and a
.tar.gz, and for each source times, on this machine: opening it (for an archive: indexing its members; for
a .tar.gz the first run also decompresses it into the cache, the second reuses that copy), the up-front
check of every file (the check cache emptied first, so every file is read), and one pass of the training loader
(decode, augmentation, resize to 224 px) over every image. Prints one JSON line per source.
"""

import argparse
import json
import os
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import torch

from fungi_hb.data.checks import check_samples
from fungi_hb.data.config import DataConfig
from fungi_hb.data.datasets.registry import open_dataset
from fungi_hb.data.loading import Augmentation, AugmentedImages, make_loader
from fungi_hb.data.samples import train_samples
from fungi_hb.data.synthetic import make_synthetic_dataset
from fungi_hb.data.targets import reader_for
from fungi_hb.data.transform_config import TransformConfig
from fungi_hb.log import setup_logging


def seconds(work) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return round(time.perf_counter() - start, 3), result


def measure(label: str, root: Path, args: argparse.Namespace) -> dict:
    opened, dataset = seconds(lambda: open_dataset(root))
    samples = train_samples(dataset, DataConfig(root), 0)
    checked, _ = seconds(lambda: check_samples(samples, dataset.targets, "training", args.workers))
    augmentation = Augmentation(224, TransformConfig(), 0, "support", 1)
    images = AugmentedImages(samples, augmentation, reader_for(dataset.targets))
    batches = [list(range(i, min(i + 8, len(samples)))) for i in range(0, len(samples), 8)]
    loaded, _ = seconds(lambda: [batch for batch in make_loader(images, batches, args.workers)])
    return {
        "source": label,
        "images": len(samples),
        "open_seconds": opened,
        "check_seconds": checked,
        "load_seconds": loaded,
        "load_ms_per_image": round(1000 * loaded / len(samples), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--workers", type=int, default=0, help="loader and check worker processes")
    args = parser.parse_args()
    setup_logging("WARNING")
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        os.environ["FUNGI_HB_CACHE"] = str(tmp / "cache")  # a fresh cache: the first .tar.gz read decompresses
        root = make_synthetic_dataset(tmp / "VOCSegmentation", num_train=args.images, num_val=1, size=(375, 500))
        for suffix, mode in ((".tar", "w"), (".tar.gz", "w:gz")):
            with tarfile.open(tmp / f"voc{suffix}", mode) as tar:
                tar.add(root, arcname="VOCSegmentation")
        sources = [("folder", root), ("tar", tmp / "voc.tar"), ("tar.gz, first read (decompressed into the cache)",
                   tmp / "voc.tar.gz"), ("tar.gz, later reads (the cached copy)", tmp / "voc.tar.gz")]  # fmt: skip
        for label, source in sources:
            shutil.rmtree(tmp / "cache" / "checked-files", ignore_errors=True)  # every file checked each time
            sys.stdout.write(json.dumps(measure(label, source, args)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
