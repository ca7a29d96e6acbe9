#!/usr/bin/env python
"""Prepare a dataset from the files its authors release, into the layout the scripts read.

    python scripts/prepare_data.py voc --voc VOCtrainval_11-May-2012.tar --sbd benchmark.tgz --out VOCSegmentation
    python scripts/prepare_data.py nyuv2 --labeled nyu_depth_v2_labeled.mat --splits splits.mat --out nyuv2

Each subcommand's --help says where to download its files; nothing is downloaded here. Archives are checked
against their published checksums first; a rerun keeps what is complete. Prints the folder to pass as
--data-dir.
"""

import argparse
import sys

from fungi_hb.cli.one_line import one_line_errors
from fungi_hb.data.prepare import preparations
from fungi_hb.log import setup_logging


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="dataset", required=True)
    modules = preparations()
    for name, module in modules.items():
        sub = commands.add_parser(
            name, help=module.__doc__.splitlines()[0], description=f"{module.__doc__}\n{module.WHERE_TO_GET}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )  # fmt: skip
        module.add_arguments(sub)
    args = parser.parse_args()
    setup_logging("INFO")
    with one_line_errors() as outcome:
        folder = modules[args.dataset].prepare(args)
        sys.stdout.write(f"{folder}\n")
    return outcome.status


if __name__ == "__main__":
    sys.exit(main())
