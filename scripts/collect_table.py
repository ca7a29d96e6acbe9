#!/usr/bin/env python
"""Collect the results files of scripts/table3.sh (or ade20k.sh) into one table (Markdown and CSV).

python scripts/collect_table.py runs/table3                 # writes runs/table3/table3.md and table3.csv
python scripts/collect_table.py runs/ade20k --name ade20k   # writes runs/ade20k/ade20k.md and ade20k.csv
"""

import argparse
import logging
import sys
from pathlib import Path

from fungi_hb.errors import UserError
from fungi_hb.evaluation.results_table import EFFICIENT, collect, write_tables
from fungi_hb.log import setup_logging


def no_results(folder: Path) -> str:
    """Why ``folder`` gave no table row, and the fix, in one line."""
    found = sorted(folder.rglob("results_*.json"))
    if not found:
        return f"No results_*.json files under {folder}. Give the OUT_DIR of table3.sh or ade20k.sh after it ran."
    return (
        f"No usable results under {folder}: of its {len(found)} results_*.json files (e.g. {found[0]}) none is a "
        f"complete results file at {folder}/<model>/<memory size or {EFFICIENT}>/results_<features>.json with a "
        "miou_percent from 0 to 100. See the warnings above, and give the folder that holds the <model> folders."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="OUT_DIR of scripts/table3.sh or scripts/ade20k.sh")
    parser.add_argument("--name", default="table3", help="Name of the two table files written in the folder.")
    args = parser.parse_args()
    setup_logging("INFO")
    try:
        rows = collect(args.folder)
        if not rows:  # write no table: an empty one would pass for a finished run
            raise UserError(no_results(args.folder))
        markdown = write_tables(rows, args.folder / f"{args.name}.md", args.folder / f"{args.name}.csv")
    except (UserError, OSError) as exc:
        logging.getLogger("fungi_hb").error("%s", exc)
        return 2
    sys.stdout.write(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
