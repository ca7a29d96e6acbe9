"""Logging set-up, done once by the scripts; modules only call ``logging.getLogger(__name__)``."""

import logging
import os
import sys
import tempfile
from contextlib import contextmanager
from typing import Iterator


def setup_logging(level: str = "INFO", rank: int = 0) -> None:
    """Configure the root logger: one line per record, timestamps, to stderr. Under torchrun the first
    process logs at ``level``; the others only warnings and errors, marked with their rank."""
    prefix = f"[rank {rank}] " if rank else ""
    logging.basicConfig(  # a no-op where a host (pytest, a notebook) already configured logging
        level=getattr(logging, level.upper()),
        format=f"%(asctime)s {prefix}%(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    package_level = (
        getattr(logging, level.upper()) if rank == 0 else max(logging.WARNING, getattr(logging, level.upper()))
    )
    logging.getLogger("fungi_hb").setLevel(package_level)


@contextmanager
def native_stderr_to(logger: logging.Logger) -> Iterator[None]:
    """Route what C++ code (ScaNN's absl logging) writes to file descriptor 2 during the block into
    ``logger``: informational lines at DEBUG, lines marked as errors (``E``/``F`` prefixes) at WARNING.
    Python's own writes to stderr in the block are caught too, so keep the block to the native call."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (an embedded interpreter): leave it alone
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines():
                if line.strip():
                    level = logging.WARNING if line[:1] in ("E", "F") and line[1:5].isdigit() else logging.DEBUG
                    logger.log(level, "%s", line.rstrip())
