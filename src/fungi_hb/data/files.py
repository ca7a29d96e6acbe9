"""Where a dataset's files are read from: a folder, or a ``.tar`` / ``.tar.gz`` archive read in place (one file
on disk, for clusters with file-count quotas). Datasets, the up-front checks and the loaders see only
``FileTree``: names relative to the dataset root, with ``/`` between folders.

An uncompressed ``.tar`` is indexed once (name -> offset and size of each member) and its members are read
with plain positioned reads, from any worker or process. A ``.tar.gz`` cannot be read at random places,
so it is decompressed once into a ``.tar`` in the cache (``$XDG_CACHE_HOME/fungi-hb/archives``), reused
while the archive is unchanged, and read like a ``.tar`` from there.
"""

import gzip
import hashlib
import io
import logging
import os
import shutil
import tarfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from fungi_hb.errors import UserError
from fungi_hb.storage.atomic import atomic_path
from fungi_hb.storage.cache import cache_folder

logger = logging.getLogger(__name__)
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")


class FileTree(ABC):
    """The files under a dataset root."""

    label: str  # for messages and results: the folder's or the archive's path

    @abstractmethod
    def is_dir(self, name: str) -> bool: ...

    @abstractmethod
    def is_file(self, name: str) -> bool: ...

    @abstractmethod
    def list_dir(self, name: str) -> list[str]:
        """The names of the entries of folder ``name`` (files and folders), sorted."""

    @abstractmethod
    def open(self, name: str) -> BinaryIO:
        """The file's bytes (a missing or truncated file raises OSError)."""

    @abstractmethod
    def stamp(self, name: str) -> list:
        """What tells this file's content apart from any later one (for the file-check cache)."""

    @abstractmethod
    def show(self, name: str) -> str:
        """How messages name the file."""

    @abstractmethod
    def sub(self, name: str) -> "FileTree":
        """The tree under folder ``name``."""

    @property
    def name(self) -> str:
        """The root folder's own name (a dataset of your own is labelled with it)."""
        return PurePosixPath(self.label.rstrip("/")).name.removesuffix(".tar.gz").removesuffix(".tar")

    def exists(self, name: str) -> bool:
        return self.is_dir(name) or self.is_file(name)

    def read_text(self, name: str) -> str:
        with self.open(name) as handle:
            return handle.read().decode("utf-8-sig")  # -sig: drops a byte-order mark

    def files_under(self, name: str, depth: int) -> list[str]:
        """Files in folder ``name`` (``depth`` 0) or in its subfolders ``depth`` levels down, as names
        relative to ``name``, sorted; hidden entries skipped."""
        found = []
        for entry in self.list_dir(name):
            if entry.startswith("."):
                continue
            path = f"{name}/{entry}" if name else entry
            if depth == 0 and self.is_file(path):
                found.append(entry)
            elif depth > 0 and self.is_dir(path):
                found += [f"{entry}/{inner}" for inner in self.files_under(path, depth - 1)]
        return sorted(found)


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset (picklable: loader workers open it themselves)."""

    tree: FileTree
    name: str

    def open(self) -> BinaryIO:
        return self.tree.open(self.name)

    def stamp(self) -> list:
        return self.tree.stamp(self.name)

    def __str__(self) -> str:
        return self.tree.show(self.name)


class FolderTree(FileTree):
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.label = str(self.root)

    def _path(self, name: str) -> Path:
        return self.root / name if name else self.root

    def is_dir(self, name: str) -> bool:
        return self._path(name).is_dir()

    def is_file(self, name: str) -> bool:
        return self._path(name).is_file()

    def list_dir(self, name: str) -> list[str]:
        return sorted(entry.name for entry in self._path(name).iterdir())

    def open(self, name: str) -> BinaryIO:
        return open(self._path(name), "rb")

    def stamp(self, name: str) -> list:
        path = self._path(name)
        stat = path.stat()
        # the change time too: any write, copy over or re-dating (cp -p, rsync -t, touch -r) sets it, also where
        # the size and modification time end up as they were
        return [str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]

    def show(self, name: str) -> str:
        return str(self._path(name))

    def sub(self, name: str) -> "FolderTree":
        return FolderTree(self._path(name))


@dataclass(frozen=True)
class Member:
    offset: int  # of the data in the .tar
    size: int


class TarTree(FileTree):
    """The members of an uncompressed tar file (``source``: the archive the user named, for messages)."""

    def __init__(self, tar: Path, source: Path, members: dict[str, Member], folders: set[str], prefix: str = ""):
        self.tar, self.source, self.members, self.folders, self.prefix = (
            Path(tar),
            Path(source),
            members,
            folders,
            prefix,
        )
        self.label = f"{source}:{prefix}" if prefix else str(source)
        self._stat = Path(tar).stat()
        self._handle: tuple[int, BinaryIO] | None = None  # (pid, file): each process opens its own

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_handle": None}

    def _full(self, name: str) -> str:
        return f"{self.prefix}{name}".rstrip("/") if name else self.prefix.rstrip("/")

    def is_dir(self, name: str) -> bool:
        return self._full(name) in self.folders

    def is_file(self, name: str) -> bool:
        return self._full(name) in self.members

    def list_dir(self, name: str) -> list[str]:
        base = self._full(name)
        start = f"{base}/" if base else ""
        entries = {n[len(start) :].split("/", 1)[0] for n in (*self.members, *self.folders) if n.startswith(start)}
        return sorted(e for e in entries if e)

    def open(self, name: str) -> BinaryIO:
        member = self.members.get(self._full(name))
        if member is None:
            raise FileNotFoundError(f"no member {self._full(name)} in {self.source}")
        if self._handle is None or self._handle[0] != os.getpid():
            self._handle = (os.getpid(), open(self.tar, "rb"))
        data = os.pread(self._handle[1].fileno(), member.size, member.offset)
        if len(data) != member.size:
            raise OSError(f"{self.show(name)} is cut short: {len(data)} of {member.size} bytes (a truncated archive)")
        return io.BytesIO(data)

    def stamp(self, name: str) -> list:
        member = self.members[self._full(name)]
        return [
            str(self.source.resolve()),
            self._stat.st_size,
            self._stat.st_mtime_ns,
            name,
            member.offset,
            member.size,
        ]

    def show(self, name: str) -> str:
        return f"{self.source}:{self._full(name)}"

    def sub(self, name: str) -> "TarTree":
        return TarTree(self.tar, self.source, self.members, self.folders, f"{self._full(name)}/")


def is_archive(path: Path) -> bool:
    return Path(path).name.endswith(ARCHIVE_SUFFIXES)


def open_tree(root: Path) -> FileTree:
    """The files of ``root``: a folder, or an archive read in place."""
    root = Path(root)
    if root.is_dir():
        return FolderTree(root)
    if root.is_file() and is_archive(root):
        return _read_archive(root)
    if root.exists():
        raise UserError(
            f"`data.data_dir` {root} is a file but not a .tar or .tar.gz archive. Point it at the dataset's folder, "
            "or at a .tar/.tar.gz archive of it."
        )
    raise UserError(
        f"`data.data_dir` {root} does not exist. Point it at the unpacked dataset or an archive of it (see "
        "docs/data.md; scripts/make_synthetic_data.py makes a small one)."
    )


def _read_archive(archive: Path) -> TarTree:
    tar = _uncompressed(archive)
    members, folders = {}, set()
    try:
        with tarfile.open(tar, mode="r:") as handle:
            for info in handle:
                name = info.name.lstrip("./").rstrip("/")
                if not name:
                    continue
                parts = name.split("/")
                folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
                if info.isdir():
                    folders.add(name)
                elif info.isfile():
                    members[name] = Member(info.offset_data, info.size)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise UserError(f"The archive {archive} cannot be read ({exc}): it is damaged or not a tar file.") from exc
    folders.add("")
    size = tar.stat().st_size
    cut = [name for name, m in members.items() if m.offset + m.size > size]
    if cut:
        raise UserError(
            f"The archive {archive} is truncated: {len(cut)} members end past its end (e.g. {cut[0]}). Download "
            "or copy it again."
        )
    logger.info("Reading %s in place (%d files).", archive, len(members))
    return TarTree(tar, archive, members, folders)


def _uncompressed(archive: Path) -> Path:
    """The archive itself if uncompressed, else its decompressed copy in the cache (made once)."""
    if archive.name.endswith(".tar"):
        return archive
    stat = archive.stat()
    key = hashlib.sha1(f"{archive.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    copy = cache_folder("archives") / f"{archive.name.split('.')[0]}-{key}.tar"
    if copy.is_file():
        return copy
    logger.info("Decompressing %s once into %s (a .tar is read at random places; a .tar.gz is not).", archive, copy)
    try:
        with gzip.open(archive, "rb") as source, atomic_path(copy) as tmp, open(tmp, "wb") as target:
            shutil.copyfileobj(source, target, 1 << 24)
    except (OSError, EOFError) as exc:
        raise UserError(f"The archive {archive} cannot be decompressed ({exc}): it is damaged or truncated.") from exc
    return copy
