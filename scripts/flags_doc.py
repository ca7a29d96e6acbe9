#!/usr/bin/env python
"""Rewrite docs/flags.md from the scripts' parsers (after a setting was added or its help changed).

python scripts/flags_doc.py
"""

import argparse
from pathlib import Path

from fungi_hb.cli.flags_doc import flags_markdown

if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    (Path(__file__).resolve().parents[1] / "docs" / "flags.md").write_text(flags_markdown())
