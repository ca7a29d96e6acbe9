"""Logging set-up, done once by the scripts; modules only call ``logging.getLogger(__name__)``."""

import logging
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def setup_logging(level: str = "INFO", rank: int = 0) -> None:
    """Configure the root logger: one line per record, timestamps, to stderr. Under torchrun the first
    process logs at ``level``; the others only warnings and errors, marked with their rank."""
    prefix = f"[rank {rank}] " if rank else ""
    logging.basicConfig(  # a no-op where a host (pytest, a notebook) already configured logging
        level=max(logging.INFO, getattr(logging, level.upper())),  # DEBUG is ours: not every library's
        format=f"%(asctime)s {prefix}%(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    package_level = (
        getattr(logging, level.upper()) if rank == 0 else max(logging.WARNING, getattr(logging, level.upper()))
    )
    logging.getLogger("fungi_hb").setLevel(package_level)


def count(number: int, noun: str, plural: str | None = None) -> str:
    """``1 piece``, ``2 pieces``: a number with its noun, for messages."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def size(num_bytes: float) -> str:
    """A size for messages: ``350 MiB``, ``1.4 GiB`` (never ``0.0 GiB``)."""
    if num_bytes >= 2**30:
        return f"{num_bytes / 2**30:.1f} GiB"
    return f"{max(num_bytes / 2**20, 0.1):.1f} MiB" if num_bytes < 10 * 2**20 else f"{num_bytes / 2**20:.0f} MiB"


class _CopyHandler(logging.Handler):
    """Appends records to a file once the job has checked its outputs and taken their locks (``start_copy``),
    holding them until then: a run refused up front writes no file (the log could land in an input
    folder, or a folder that bad input should not create). A file that cannot be written is given up on
    silently: the console still shows everything."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path, self.held, self.stream, self.armed = path, [], None, False
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        self.held.append(self.format(record))
        self.flush()

    def flush(self) -> None:
        if self.armed and self.held and self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.stream = self.stream or open(self.path, "a", encoding="utf-8")
                self.stream.write("".join(line + "\n" for line in self.held))
                self.stream.flush()
            except OSError:
                self.path = None
            self.held = []

    def close(self) -> None:
        self.flush()
        if self.stream is not None:
            self.stream.close()
        super().close()


def start_copy() -> None:
    """Let the log copy of ``copied_to`` reach its file (jobs call it once their outputs are checked and
    locked); a no-op where no copy is made."""
    for handler in logging.getLogger("fungi_hb").handlers:
        if isinstance(handler, _CopyHandler):
            handler.armed = True
            handler.flush()


@contextmanager
def copied_to(path: Path | None) -> Iterator[None]:
    """While the block runs, the package's log lines also go to the file ``path`` (appended, with the date
    in each line), so that a run's record stays next to its results."""
    if path is None:
        yield
        return
    handler = _CopyHandler(Path(path))
    package = logging.getLogger("fungi_hb")
    package.addHandler(handler)
    try:
        yield
    finally:
        package.removeHandler(handler)
        handler.close()


@contextmanager
def native_stderr_to(logger: logging.Logger) -> Iterator[None]:
    """Route what native code (a search library's C++ logging) writes to file descriptor 2 during the block into
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
