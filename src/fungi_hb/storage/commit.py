"""Multi-file artifacts committed as a unit.

Each part is first written under a staged name beside its final place. A journal listing the moves is
then written atomically: that is the commit point. The moves follow, and the journal is removed. A run
killed before the journal exists leaves the old artifact untouched (plus staged leftovers, removed by the
next writer); one killed after it is finished by the next reader or writer (``recover``), which replays
the moves. Either way nobody ever sees a mixture of old and new parts.
"""

import hashlib
import json
import logging
import os
import shutil
import uuid
from pathlib import Path

from fungi_hb.storage.atomic import atomic_path

logger = logging.getLogger(__name__)

STAGED = ".staged-"  # staged names: .<final name>.staged-<token>
OLD = ".old-"  # a replaced folder on its way out: .<final name>.old-<token>


def staged_path(final: Path, token: str) -> Path:
    final = Path(final)
    return final.with_name(f".{final.name}{STAGED}{token}")


def new_token() -> str:
    return uuid.uuid4().hex[:12]


def fingerprint(path: Path, blocks: int = 16, block_size: int = 1 << 16) -> str:
    """A cheap content fingerprint: the size and 16 blocks of 64 KiB spread over the file."""
    size = Path(path).stat().st_size
    digest = hashlib.sha1(str(size).encode())
    with open(path, "rb") as handle:
        for i in range(blocks):
            handle.seek(max(0, (size - block_size) * i // max(blocks - 1, 1)))
            digest.update(handle.read(block_size))
    return digest.hexdigest()


def fingerprints(path: Path) -> dict[str, str]:
    """{relative name: fingerprint} of a file ("" for itself) or of every file in a folder."""
    path = Path(path)
    if path.is_file():
        return {"": fingerprint(path)}
    return {str(p.relative_to(path)): fingerprint(p) for p in sorted(path.rglob("*")) if p.is_file()}


def _replace(staged: Path, final: Path) -> None:
    """Move ``staged`` onto ``final`` (a file, or a folder replacing a folder)."""
    if not staged.exists():
        return  # already moved (a replay)
    if staged.is_dir() and final.exists():
        old = final.with_name(f".{final.name}{OLD}{new_token()}")
        os.replace(final, old)
        os.replace(staged, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        if final.is_dir():
            raise IsADirectoryError(f"{final} is a folder")
        os.replace(staged, final)


def commit(moves: list[tuple[Path, Path]], journal: Path) -> None:
    """Move every staged part onto its final place, all or nothing across crashes (the last move should be
    the part that marks the artifact complete)."""
    record = {"moves": [[str(staged), str(final)] for staged, final in moves]}
    with atomic_path(Path(journal)) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        with open(tmp) as handle:
            os.fsync(handle.fileno())
    _replay(record, Path(journal))


def _replay(record: dict, journal: Path) -> None:
    for staged, final in record["moves"]:
        _replace(Path(staged), Path(final))
    for _, final in record["moves"]:  # folders left by an interrupted replacement
        for old in Path(final).parent.glob(f".{Path(final).name}{OLD}*"):
            shutil.rmtree(old, ignore_errors=True)
    journal.unlink(missing_ok=True)


def recover(journal: Path) -> bool:
    """Finish a commit that a killed run left half done; True if there was one."""
    journal = Path(journal)
    if not journal.is_file():
        return False
    try:
        record = json.loads(journal.read_text())
    except ValueError:  # cannot happen with the atomic write; a hand-edited journal
        raise ValueError(f"the commit journal {journal} is damaged") from None
    logger.warning("Finishing the interrupted save recorded in %s.", journal)
    _replay(record, journal)
    return True


def discard(path: Path) -> None:
    """Delete one staged part (a file or a folder) if it is still there."""
    path = Path(path)
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_staged(final: Path) -> None:
    """Delete staged leftovers of ``final`` from killed runs (call after ``recover``)."""
    final = Path(final)
    staged = [*final.parent.glob(f".{final.name}{STAGED}*"), *final.parent.glob(f"..{final.name}{STAGED}*")]
    for leftover in staged:  # the second kind: a staged file killed while being written
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
