#!/usr/bin/env python
"""Evaluate dense FUNGI (or raw) features with HummingBird label transfer on Pascal VOC. See README.md."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from fungi_hb.cli.eval_gradients import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
