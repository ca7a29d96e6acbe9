"""The work folder of a job: where finished pieces (and, for an evaluation, the assembled memory and its
index) wait until the job's results are committed. Subfolders are named after a digest of everything
that determines their content, so a rerun of the same command finds its own work and nothing else."""

import hashlib
import json
import logging
from pathlib import Path

from fungi_hb.jsonable import to_jsonable

WORK_FOLDER = ".fungi-work"
logger = logging.getLogger(__name__)


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


def finish_work(root: Path) -> None:
    """After a job has committed its outputs and removed its own work: remove the work folder if empty,
    else say what other runs left there (never deleted here: another run may be using it)."""
    root = Path(root)
    if not root.is_dir():
        return
    others = [p for p in root.iterdir() if p.is_dir() and p.name != "failures"]
    if not others:
        for note in root.glob("failures/rank-*.txt"):
            note.unlink(missing_ok=True)
        for folder in (root / "failures", root):
            try:
                folder.rmdir()
            except OSError:
                pass
        return
    size = sum(f.stat().st_size for p in others for f in p.rglob("*") if f.is_file())
    logger.warning(
        "%s still holds the pieces of %d other runs (%.2f GB: other settings, or runs stopped part-way). "
        "Rerun those commands to finish them, or delete the folder if they are abandoned.",
        root,
        len(others),
        size / 1e9,
    )
