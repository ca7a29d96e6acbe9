#!/usr/bin/env python
"""Write a small synthetic dataset in a real layout (for demos, smoke runs and your own tests).

    python scripts/make_synthetic_data.py OUT_DIR --num-train 48 --num-val 16 [--layout LAYOUT]

Every dataset offers its layouts (--help lists them): seed (the published VOCSegmentation folder),
vocdevkit (VOCdevkit/VOC2012), ade20k, cityscapes, cocostuff, depth (images/, depth/ of 16-bit millimetres),
generic (images/, masks/, train.txt, val.txt, classes.txt of --num-classes classes). Prints the folder to
pass as --data-dir.
"""

import argparse
import logging
import sys
from pathlib import Path

from fungi_hb.data.synthetic import layouts, make_synthetic_dataset
from fungi_hb.log import setup_logging


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="Output folder.")
    parser.add_argument("--num-train", type=int, default=48)
    parser.add_argument("--num-val", type=int, default=16)
    parser.add_argument("--layout", choices=sorted(layouts()), default="seed")
    parser.add_argument("--num-classes", type=int, default=7, help="Classes of the generic layout.")
    parser.add_argument("--height", type=int, default=96)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    setup_logging("INFO")
    size = (args.height, args.width)
    root = make_synthetic_dataset(
        args.out, args.num_train, args.num_val, args.layout, size, args.num_classes, args.seed
    )
    sys.stdout.write(f"{root}\n")
    logging.getLogger(__name__).info("Pass --data-dir %s", root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
