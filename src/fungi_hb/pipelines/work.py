"""The work folder of a job: where finished pieces (and, for an evaluation, the assembled memory and its
index) wait until the job's results are committed. Subfolders are named after a digest of everything
that determines their content, so a rerun of the same command finds its own work and nothing else."""

import hashlib
import json
from pathlib import Path

from ..jsonable import to_jsonable

WORK_FOLDER = ".fungi-work"


def work_root(explicit: Path | None, anchor: Path | None) -> Path:
    """``--work-dir`` if given, else ``.fungi-work`` beside ``anchor`` (the job's main output), else in the
    current folder."""
    if explicit is not None:
        return Path(explicit)
    return (Path(anchor).parent if anchor is not None else Path(".")) / WORK_FOLDER


def work_key(kind: str, *parts: object) -> str:
    """``<kind>-<digest of parts>``: parts are identities and settings (anything ``to_jsonable`` takes)."""
    text = json.dumps(to_jsonable(list(parts)), sort_keys=True)
    return f"{kind}-{hashlib.sha1(text.encode()).hexdigest()[:16]}"
