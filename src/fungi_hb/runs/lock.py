"""Runs on the same outputs exclude each other: a run holds an exclusive lock (``fcntl.flock``) on a
hidden ``.<name>.lock`` file beside each output, and on each piece store it works in, for as long as it
runs. A second run is refused up front with one line naming the first. The kernel drops a lock when its
process ends, however it ends, so the lock of a killed run is simply taken over.

On file systems without ``flock`` (some network mounts) locking is skipped with a warning.
"""

import errno
import fcntl
import json
import logging
import os
import socket
import stat
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

from fungi_hb.errors import UserError

logger = logging.getLogger(__name__)


def lock_path(path: Path) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


class Lock:
    """An exclusive lock on ``.<name>.lock`` beside ``path``, held until ``release``."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = lock_path(path)
        self.what = what  # for messages: "the memory bank features.pth"
        self._handle = None

    def acquire(self) -> "Lock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            handle = self._open()
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                handle.seek(0)
                holder = handle.read()
                handle.close()
                if exc.errno in (errno.EAGAIN, errno.EACCES):
                    raise UserError(
                        f"Another run is writing {self.what} ({_describe(holder)}). Wait for it to end or stop it, "
                        "or give this run other outputs."
                    ) from None
                logger.warning("Cannot lock %s (%s): runs on the same outputs are not kept apart.", self.path, exc)
                return self
            if _same_file(handle, self.path):  # not unlinked by a releasing holder in the meantime
                break
            handle.close()
        handle.seek(0)
        handle.truncate()
        note = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        handle.write(json.dumps({**note, "command": " ".join(sys.argv)}))
        handle.flush()
        self._handle = handle
        return self

    def _open(self):
        """The lock file, created if missing; never through a link, never anything but a plain file (a link
        planted there must not make us write elsewhere)."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise UserError(
                f"Cannot use the lock file {self.path} ({exc.strerror}): it must be a plain file, or absent. "
                "Remove what is there and rerun."
            ) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise UserError(f"The lock file {self.path} is not a plain file. Remove it and rerun.")
        return os.fdopen(fd, "r+")

    def release(self) -> None:
        if self._handle is not None:
            self.path.unlink(missing_ok=True)  # before unlocking, so that no one locks a file on its way out
            self._handle.close()
            self._handle = None


@contextmanager
def locked(path: Path, what: str) -> Iterator[Lock]:
    """The lock of ``path`` while the block runs (``release`` may end it earlier)."""
    held = Lock(path, what).acquire()
    try:
        yield held
    finally:
        held.release()


def hold(stack: ExitStack, paths: dict[str, Path | None]) -> None:
    """Lock every given path (what -> path; None: not given) until ``stack`` closes."""
    for what, path in sorted(paths.items(), key=lambda item: str(item[1])):
        if path is not None:
            lock = Lock(Path(path), what).acquire()
            stack.callback(lock.release)


def _same_file(handle, path: Path) -> bool:
    try:
        return os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _describe(holder: str) -> str:
    try:
        note = json.loads(holder)
        return f"process {note['pid']} on {note['host']}, since {note['since']}: {note['command']}"
    except (ValueError, KeyError, TypeError):
        return "a process that left no note"
