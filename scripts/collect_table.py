#!/usr/bin/env python
"""Collect results files of scripts/table3.sh into one table (Markdown and CSV).

python scripts/collect_table.py runs/table3      # writes runs/table3/table3.md and table3.csv
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from fungi_hb.log import setup_logging  # noqa: E402
from fungi_hb.results_table import collect, write_tables  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="OUT_DIR of scripts/table3.sh")
    args = parser.parse_args()
    setup_logging("INFO")
    rows = collect(args.folder)
    markdown = write_tables(rows, args.folder / "table3.md", args.folder / "table3.csv")
    sys.stdout.write(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
