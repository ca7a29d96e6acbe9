"""Writes that leave either the complete new file or nothing: a killed run never leaves a file that looks
whole. Each writer fills a hidden sibling and renames it into place. The hidden siblings' names are
defined here, and so is the one function that clears what killed writers left of them."""

import json
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from fungi_hb.errors import UserError

# Hidden siblings of a final path NAME: .NAME.tmp-<hex> (a file being written), .NAME.staged-<token> (a
# part of a multi-file save, storage.transaction), .NAME.old-<token> (a replaced folder on its way out);
# a staged part is itself written through a temporary file: ..NAME.staged-<token>.tmp-<hex>.
TMP, STAGED, OLD = ".tmp-", ".staged-", ".old-"


def new_token() -> str:
    return uuid.uuid4().hex[:12]


def sibling(path: Path, kind: str, token: str) -> Path:
    """The hidden sibling of ``path`` of one ``kind`` (TMP, STAGED or OLD)."""
    path = Path(path)
    return path.with_name(f".{path.name}{kind}{token}")


def final_path(path: Path) -> Path:
    """The path that a hidden sibling stands for (``..x.staged-t.tmp-h`` -> ``x``); others as they are."""
    path = Path(path)
    name = path.name
    for _ in range(2):
        for kind in (TMP, STAGED, OLD):
            if name.startswith(".") and kind in name:
                name = name[1:].rsplit(kind, 1)[0]
    return path.with_name(name) if name else path


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it to ``path``, else delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = sibling(path, TMP, uuid.uuid4().hex[:8])
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_json(obj: Any, path: Path) -> None:
    """Write pretty JSON atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def remove(path: Path) -> None:
    """Delete a file or a folder if it is there."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_leftovers(path: Path) -> None:
    """Delete every hidden sibling of ``path`` that a killed writer left. They are never read; this frees
    their space. Call it only while holding the output's lock (``runs.lock``): another run's siblings are
    live files."""
    path = Path(path)
    if not path.parent.is_dir():
        return
    for kind in (TMP, STAGED, OLD):
        for pattern in (f".{path.name}{kind}*", f"..{path.name}{kind}*"):
            for leftover in path.parent.glob(pattern):
                remove(leftover)


def check_writable(path: Path) -> None:
    """Raise ``UserError`` early if a file could not be created at ``path``. Creates no folder: the
    nearest existing one must let us create what is missing below it."""
    parent = Path(path).absolute().parent
    existing = parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"Cannot write under {parent}: {existing} is a file, not a folder. Choose another path.")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UserError(
            f"Cannot write to {existing} ({exc.strerror}). Choose an output path in a writable folder."
        ) from exc
