"""Logging set-up, done once by the scripts; modules only call ``logging.getLogger(__name__)``."""

import logging
import os
import sys


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger: one line per record, timestamps, to stderr."""
    logging.basicConfig(  # a no-op where a host (pytest, a notebook) already configured logging
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    logging.getLogger("fungi_hb").setLevel(getattr(logging, level.upper()))
    # ScaNN/absl are chatty on stderr; keep them to warnings unless debugging.
    if level.upper() != "DEBUG":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("GLOG_minloglevel", "2")
