"""The tool's cache: what it keeps between runs only to save time (the list of data files already checked,
decompressed copies of .tar.gz datasets). Deleting it costs time, never a result.

Where: ``$FUNGI_HB_CACHE`` if set, else ``$XDG_CACHE_HOME/fungi-hb``, else ``~/.cache/fungi-hb``.
``FUNGI_HB_CACHE=off`` turns the file-check cache off (every file is checked on every run; a .tar.gz is
then decompressed into the system's temporary folder for the run).
"""

import os
import tempfile
from pathlib import Path

OFF = "off"
DESCRIPTION = (
    "Cache (checked-file list, decompressed .tar.gz copies): $FUNGI_HB_CACHE, else $XDG_CACHE_HOME/fungi-hb, else "
    "~/.cache/fungi-hb; FUNGI_HB_CACHE=off turns it off."
)


def cache_enabled() -> bool:
    return os.environ.get("FUNGI_HB_CACHE", "").strip().lower() != OFF


def cache_root() -> Path:
    """The cache folder (not created here)."""
    explicit = os.environ.get("FUNGI_HB_CACHE", "").strip()
    if explicit and explicit.lower() != OFF:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "fungi-hb"


def cache_folder(part: str) -> Path:
    """``<cache>/<part>``, created; with the cache off, a folder of this run in the temporary folder."""
    folder = cache_root() / part if cache_enabled() else Path(tempfile.mkdtemp(prefix=f"fungi-hb-{part}-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
