#!/usr/bin/env python
"""Build a memory bank of DINO patch features and its ScaNN support index. See README.md."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from fungi_hb.cli.create_memory_bank import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
