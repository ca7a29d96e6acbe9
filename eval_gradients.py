#!/usr/bin/env python
"""Evaluate dense FUNGI (or raw) features with HummingBird label transfer (Pascal VOC, ADE20K or your own
data). See README.md."""

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))  # works without installing too
    try:
        from fungi_hb.cli.eval_gradients import main
    except KeyboardInterrupt:  # Ctrl-C while torch loads
        sys.stderr.write("Interrupted before anything started.\n")
        sys.exit(130)
    sys.exit(main())
