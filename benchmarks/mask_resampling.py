#!/usr/bin/env python
"""How many ground-truth pixels change between PIL's nearest resize (centre rounding, what this tool used
before) and torch's legacy nearest (source index floor(dst * in / out), what the published code uses).

    python benchmarks/mask_resampling.py DATA_DIR [--input-size 224] [--val-list FILE]

Prints one JSON line: pixels compared, pixels that differ, and their share (all pixels, and pixels
that are scored, i.e. not 255 under the published rule).
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from fungi_hb.data.config import DataConfig
from fungi_hb.data.datasets.registry import open_dataset
from fungi_hb.data.samples import val_samples
from fungi_hb.data.transforms import TransformConfig, val_transform


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--val-list", type=Path, default=None)
    args = parser.parse_args()
    size, total, differ, scored, scored_differ = args.input_size, 0, 0, 0, 0
    config = DataConfig(args.data_dir, val_list=args.val_list)
    for sample in val_samples(open_dataset(config.data_dir), config):
        image, mask = Image.open(sample.image), Image.open(sample.mask)
        published = val_transform(image, mask, size, TransformConfig())[1][0].numpy()  # (S, S)
        pil = np.array(mask.resize((size, size), Image.NEAREST))  # (S, S)
        total += published.size
        differ += int((published != pil).sum())
        keep = published != 255
        scored += int(keep.sum())
        scored_differ += int((published[keep] != pil[keep]).sum())
    out = {
        "input_size": size,
        "pixels": total,
        "differ": differ,
        "share": round(differ / total, 5),
        "scored_pixels": scored,
        "scored_differ": scored_differ,
        "scored_share": round(scored_differ / max(scored, 1), 5),
    }
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
