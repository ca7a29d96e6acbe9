"""Artifacts of several files (a memory bank, an index folder) saved all-or-nothing.

Each part is first written under a staged name beside its final place (``atomic.STAGED``). A journal
naming the parts is then written atomically: that is the commit point. The staged parts are moved onto
their final places and the journal is removed. A run killed before the journal exists leaves the old
artifact untouched, plus staged leftovers that the next writer removes. One killed after it leaves the
journal; the next *writer* of the same artifact finishes the moves (``staged_commit`` does it first).

Readers never act on a journal: they refuse an artifact that has one (``pending``), because a journal is
a file anyone could have written. A writer replays a journal only if every part it names is a part of
the artifact the writer is about to write anyway, named relative to the journal's folder; anything else
is refused. Moves go only from a part's staged sibling onto the part itself.
"""

import json
import logging
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from fungi_hb.errors import UserError
from fungi_hb.storage.atomic import OLD, STAGED, atomic_path, new_token, remove, remove_leftovers, sibling

logger = logging.getLogger(__name__)

JOURNAL_FORMAT = "fungi-hb journal 2"
MAX_JOURNAL_BYTES = 64 * 1024  # a journal names the few parts of one artifact
_TOKEN = re.compile(r"[0-9a-f]{12}")


def pending(journal: Path) -> bool:
    """Whether an interrupted save of the artifact waits to be finished by its writer."""
    return Path(journal).exists()


@contextmanager
def staged_commit(finals: dict[str, Path], journal: Path) -> Iterator[dict[str, Path]]:
    """Save an artifact as a unit: yields a staged path for every part (role -> path, to be written by
    the caller); on a clean exit they replace the final paths as one commit, in the order given (put the
    part that marks the artifact complete last); on an error they are deleted and the old artifact stays.

    Finishes (or refuses, see the module docstring) a commit that a killed writer left, and clears staged
    leftovers, first. Call it only while holding the artifact's lock (``runs.lock``).
    """
    finals = {role: Path(path) for role, path in finals.items()}
    recover(journal, list(finals.values()))
    for path in [*finals.values(), Path(journal)]:
        remove_leftovers(path)
    token = new_token()
    staged = {role: sibling(path, STAGED, token) for role, path in finals.items()}
    committed = False
    try:
        yield staged
        committed = _write_journal(token, list(finals.values()), Path(journal))
        _replay(token, list(finals.values()), Path(journal))
    finally:
        if not committed:  # a failure before the commit point: the staged parts must go
            for path in staged.values():
                remove(path)


def _write_journal(token: str, finals: list[Path], journal: Path) -> bool:
    """The commit point: once the journal is in place, the save is finished by whoever writes next."""
    base = journal.parent.absolute()
    record = {"format": JOURNAL_FORMAT, "token": token, "parts": [os.path.relpath(p.absolute(), base) for p in finals]}
    with atomic_path(journal) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        with open(tmp) as handle:
            os.fsync(handle.fileno())
    return True


class ForeignJournal(UserError):
    """A journal this tool did not write for these outputs (damaged, or naming other paths)."""


def check_journal(journal: Path, finals: list[Path]) -> tuple[str, list[Path]] | None:
    """The token and parts of the interrupted save in ``journal`` (None when there is none); every part
    must be one of ``finals`` (the parts of the artifact the caller writes), named relative to the
    journal's folder. Writers call it before their long part, so that a foreign journal stops them early.

    Raises:
        ForeignJournal: the journal is damaged, or names a path that is not one of ``finals``.
    """
    journal = Path(journal)
    if not journal.exists() and not journal.is_symlink():
        return None
    delete = f"Nothing was moved. Delete {journal} if you do not know where it comes from, then rerun."
    allowed = {p.absolute().resolve(): p for p in finals}
    try:
        if journal.is_symlink() or not journal.is_file():
            raise ValueError("it is not a plain file")
        if journal.stat().st_size > MAX_JOURNAL_BYTES:  # ours names a few parts: refused before it is read
            raise ValueError(f"it holds {journal.stat().st_size} bytes; a journal of this tool holds a few hundred")
        record = json.loads(journal.read_text())
        if record.get("format") != JOURNAL_FORMAT or not _TOKEN.fullmatch(str(record.get("token"))):
            raise ValueError("not a journal of this version")
        names = record["parts"]
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise ValueError("its parts are not a list of names")
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
        raise ForeignJournal(f"The save journal {journal} is damaged ({exc}). {delete}") from None
    parts = []
    for name in names:
        target = (journal.parent / name).absolute().resolve()
        if Path(name).is_absolute() or target not in allowed:
            raise ForeignJournal(
                f"The save journal {journal} names {name}, which is not a part of what this run writes, so it was "
                f"not written by this tool for these outputs. {delete}"
            )
        parts.append(allowed[target])
    return record["token"], parts


def recover(journal: Path, finals: list[Path]) -> bool:
    """Finish the commit a killed writer left in ``journal`` (see ``check_journal``); True if there was one."""
    found = check_journal(journal, finals)
    if found is None:
        return False
    logger.warning("Finishing the save that a stopped run left in %s.", journal)
    _replay(found[0], found[1], Path(journal))
    return True


def _replay(token: str, finals: list[Path], journal: Path) -> None:
    for final in finals:
        _replace(sibling(final, STAGED, token), final)
    for final in finals:  # folders left by an interrupted replacement
        for old in final.parent.glob(f".{final.name}{OLD}*"):
            remove(old)
    journal.unlink(missing_ok=True)


def _replace(staged: Path, final: Path) -> None:
    """Move ``staged`` onto ``final`` (a file, or a folder replacing a folder)."""
    if not staged.exists():
        return  # already moved (a replay)
    if staged.is_dir() and final.exists():
        old = sibling(final, OLD, new_token())
        os.replace(final, old)
        os.replace(staged, final)
        remove(old)
    else:
        if final.is_dir():
            raise IsADirectoryError(f"{final} is a folder")
        os.replace(staged, final)


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` (name -> bytes) into ``folder`` as one commit: a later reader sees all of them new or
    all old. Other files of the folder are left alone. Call it only while holding the folder's lock."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with staged_commit({name: folder / name for name in files}, folder / ".files.commit.json") as staged:
        for name, data in files.items():
            with atomic_path(staged[name]) as tmp:
                tmp.write_bytes(data)


def staged_folder(folder: Path):
    """Save a folder as a unit (an index): a context manager yielding the staged folder to fill; its journal
    is ``<name>.commit.json`` beside it. Call it only while holding the folder's lock."""
    folder = Path(folder)
    return _staged_one(folder, folder.with_name(f"{folder.name}.commit.json"))


@contextmanager
def _staged_one(folder: Path, journal: Path) -> Iterator[Path]:
    with staged_commit({"folder": folder}, journal) as staged:
        yield staged["folder"]
