"""The work folder of a job: where finished pieces (and, for an evaluation, the assembled memory and its
index) wait until the job's results are committed, and where a failed process of a torchrun job leaves a
note for the first one to report. Subfolders are named after a digest of everything that determines
their content, so a rerun of the same command finds its own work and nothing else."""

import hashlib
import json
import logging
import shutil
import time
from pathlib import Path

from fungi_hb.jsonable import to_jsonable
from fungi_hb.runs.world import World

WORK_FOLDER = ".fungi-work"
FAILURES = "failures"
logger = logging.getLogger(__name__)


def work_root(explicit: Path | None, anchor: Path | None) -> Path:
    """The explicit work folder if given, else ``.fungi-work`` beside ``anchor`` (the job's main output),
    else in the current folder."""
    if explicit is not None:
        return Path(explicit)
    return (Path(anchor).parent if anchor is not None else Path(".")) / WORK_FOLDER


def work_key(kind: str, *parts: object) -> str:
    """``<kind>-<digest of parts>``: parts are identities and settings (anything ``to_jsonable`` takes)."""
    text = json.dumps(to_jsonable(list(parts)), sort_keys=True)
    return f"{kind}-{hashlib.sha1(text.encode()).hexdigest()[:16]}"


def work_folder(root: Path, kind: str, *parts: object) -> Path:
    """The subfolder of the work folder ``root`` for what ``parts`` determine (see ``work_key``)."""
    return Path(root) / work_key(kind, *parts)


def assembled_memory_folder(store_folder: Path) -> Path:
    """Where an evaluation memory is assembled from its pieces when it is not saved elsewhere."""
    return Path(store_folder) / "memory"


def remove_work(folder: Path) -> None:
    """Delete a finished subfolder of a work folder (its results committed elsewhere)."""
    shutil.rmtree(folder, ignore_errors=True)


def note_failure(root: Path, world: World, message: str) -> None:
    """Leave a line for the first process, which reports the failures of the others."""
    try:
        folder = Path(root) / FAILURES
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"rank-{world.rank}.txt").write_text(message + "\n")
    except OSError:
        pass


def failures(root: Path, since: float, world: World) -> list[str]:
    """``process N: message`` for every other process that noted a failure since ``since`` (a time)."""
    folder = Path(root) / FAILURES
    if not folder.is_dir():
        return []
    notes = [p for p in sorted(folder.glob("rank-*.txt")) if p.stat().st_mtime >= since]
    return [
        f"process {p.stem.removeprefix('rank-')} failed: {p.read_text().strip()}"
        for p in notes
        if p.stem != f"rank-{world.rank}"
    ]


def finish_work(root: Path) -> None:
    """After a job has committed its outputs and removed its own work: remove the work folder if empty,
    else say what other runs left there (never deleted here: another run may be using it)."""
    root = Path(root)
    if not root.is_dir():
        return
    others = [p for p in root.iterdir() if p.is_dir() and p.name != FAILURES]
    if not others:
        for note in root.glob(f"{FAILURES}/rank-*.txt"):
            note.unlink(missing_ok=True)
        for folder in (root / FAILURES, root):
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


def started_at() -> float:
    """The time from which failure notes count as this run's (a minute of slack for clock skew)."""
    return time.time() - 60
