#!/usr/bin/env python
"""Collect results files into one table (Markdown and CSV): a row per experiment (dataset, model, features, ...),
a column per memory size, mean ± spread over seeds, in the task's figure (mIoU in %, or depth RMSE in metres).

python scripts/collect_table.py runs/table3                 # writes runs/table3/table3.md and table3.csv
python scripts/collect_table.py runs/cityscapes             # one other dataset: cityscapes-19.md and .csv
python scripts/collect_table.py runs --name all             # any folder of results: runs/all.md and all.csv
"""

import argparse
import sys
from pathlib import Path

from fungi_hb.cli.one_line import one_line_errors
from fungi_hb.errors import UserError
from fungi_hb.evaluation.results_table import EFFICIENT, collect, table_name, write_tables
from fungi_hb.log import setup_logging


def no_results(folder: Path) -> str:
    """Why ``folder`` gave no table row, and the fix, in one line."""
    found = sorted(folder.rglob("results_*.json"))
    if not found:
        return (
            f"No results_*.json files under {folder}. Give the OUT_DIR of table3.sh or dataset_table.sh after it ran."
        )
    return (
        f"No usable results under {folder}: of its {len(found)} results_*.json files (e.g. {found[0]}) none is a "
        f"complete results file with its settings, or at {folder}/<model>/<memory size or {EFFICIENT}>/"
        "results_<features>.json, with a valid figure (mIoU from 0 to 100, or a finite RMSE). See the warnings "
        "above, and give the folder that holds the results."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="a folder of results files (the OUT_DIR of table3.sh, ...)")
    parser.add_argument(
        "--name", default=None, help="The tables' file name (default: table3 for VOC, else the dataset's name)."
    )
    args = parser.parse_args()
    setup_logging("INFO")
    with one_line_errors() as outcome:
        rows = collect(args.folder)
        if not rows:  # write no table: an empty one would pass for a finished run
            raise UserError(no_results(args.folder))
        name = args.name or table_name(rows)
        markdown = write_tables(rows, args.folder / f"{name}.md", args.folder / f"{name}.csv")
        sys.stdout.write(markdown)
    return outcome.status


if __name__ == "__main__":
    sys.exit(main())
