#!/usr/bin/env python
"""Evaluate dense FUNGI (or raw) features with HummingBird label transfer (Pascal VOC, ADE20K or your own
data). See README.md."""

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))  # works without installing too
    try:
        from fungi_hb.cli.eval_gradients import main

        code = main()  # the libraries load once the flags are parsed; the job handles its own Ctrl-C
    except KeyboardInterrupt:  # Ctrl-C while the libraries load
        sys.stderr.write("Interrupted before anything started.\n")
        code = 130
    sys.exit(code)
