"""What every preparation of this folder shares (not a subcommand: its name starts with an underscore):
checked inputs and outputs, streamed checksums, archives read member by member, atomic writes, progress."""

import argparse
import hashlib
import logging
import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import BinaryIO, Iterator

from PIL import Image

from fungi_hb.errors import UserError
from fungi_hb.log import count, size
from fungi_hb.storage.atomic import atomic_path, check_writable

logger = logging.getLogger(__name__)


def add_skip_checksum(parser: argparse.ArgumentParser) -> None:
    """The --skip-checksum flag."""
    parser.add_argument(
        "--skip-checksum", action="store_true",
        help="do not compare the archives with their published md5 (for re-packed copies; warns)",
    )  # fmt: skip


def add_output(parser: argparse.ArgumentParser) -> None:
    """The --out flag every preparation takes."""
    parser.add_argument("--out", type=Path, required=True, help="the dataset folder to write")


def require_file(path: Path | None, flag: str, download: str, command: str) -> Path:
    """``path`` if it is a file; else a UserError naming the download to pass with ``flag``."""
    if path is None:
        raise UserError(f"{flag} is missing: pass the path of {download} (see prepare_data.py {command} --help).")
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} ({flag}) is a folder: pass the file {download} (prepare_data.py {command} --help).")
    if not path.is_file():
        raise UserError(
            f"{path} ({flag}): no such file. Download {download} (see prepare_data.py {command} --help) and pass "
            "its path."
        )
    return path


def output_folder(out: Path) -> Path:
    """``out``, created; a UserError where it (or a folder above it) is a file or cannot be written."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder: pass a new or existing folder.")
    check_writable(out / "x")
    out.mkdir(parents=True, exist_ok=True)
    return out


def md5sum(path: Path) -> str:
    """The md5 of a file, read in blocks of 8 MiB; big files log a line first and one per GiB read."""
    total, done, digest = path.stat().st_size, 0, hashlib.md5()
    if total > 100 * 2**20:
        logger.info("Checking the md5 of %s (%s)", path, size(total))
    with open(path, "rb") as handle:
        while block := handle.read(2**23):
            digest.update(block)
            done += len(block)
            if done % 2**30 < len(block) and done < total:
                logger.info("  md5 of %s: %s of %s read", path.name, size(done), size(total))
    return digest.hexdigest()


def check_md5(path: Path, expected: str, download: str, skip: bool) -> None:
    """A UserError unless ``path`` has the published md5 of ``download`` (a warning instead with ``skip``)."""
    if skip:
        logger.warning("%s: md5 not checked (--skip-checksum); the official %s has %s", path, download, expected)
        return
    found = md5sum(path)
    if found != expected:
        raise UserError(
            f"{path} has md5 {found}, not {expected}: it is not the official {download} (or a damaged copy). "
            "Download it again (see --help), or pass --skip-checksum for a re-packed copy."
        )
    logger.info("%s: md5 %s, the official %s", path, found, download)


def open_tar(path: Path, download: str) -> tarfile.TarFile:
    """The tar file at ``path`` (compressed or not), or a UserError."""
    try:
        return tarfile.open(path)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise UserError(f"{path} is not a tar archive ({exc}): download {download} (see --help).") from exc


def tar_members(tar: tarfile.TarFile, path: Path, download: str) -> Iterator[tarfile.TarInfo]:
    """The members of ``tar`` in order; a UserError where the archive is cut short or damaged."""
    try:
        yield from tar
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise UserError(f"{path} is damaged or cut short ({exc}): download {download} again (see --help).") from exc


def open_zip(path: Path, download: str) -> zipfile.ZipFile:
    """The zip file at ``path``, or a UserError."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"{path} is not a zip archive ({exc}): download {download} (see --help).") from exc


def copy_zip_members(archive: zipfile.ZipFile, targets: dict[str, Path], download: str) -> None:
    """Copy each member of ``targets`` to its path, leaving files already there; CRC errors are a UserError."""
    todo = [(name, path) for name, path in targets.items() if not path.exists()]
    logger.info("Copying %s from %s (%d already there)", count(len(todo), "file"), download, len(targets) - len(todo))
    for done, (name, path) in enumerate(todo, 1):
        try:
            with archive.open(name) as source:
                write_stream(source, path)
        except zipfile.BadZipFile as exc:
            raise UserError(f"{archive.filename}: {name} is damaged ({exc}): download {download} again.") from exc
        log_progress(done, len(todo), f"files of {download}")


def write_stream(source: BinaryIO, path: Path) -> None:
    """Copy ``source`` to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as target:
        shutil.copyfileobj(source, target, 2**20)


def save_png(image: Image.Image, path: Path) -> None:
    """Save ``image`` as a PNG at ``path`` atomically."""
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def write_lines(lines: list[str], path: Path) -> None:
    """One line per entry, atomically; a file already there is kept."""
    if not path.exists():
        with atomic_path(path) as tmp:
            tmp.write_text("".join(f"{line}\n" for line in lines))


def read_ids(data: bytes) -> list[str]:
    """The ids of a list file, one per line (blank lines left out)."""
    return [line.strip() for line in data.decode().splitlines() if line.strip()]


def log_progress(done: int, total: int, what: str) -> None:
    """A log line at every tenth of ``total`` (and at the end)."""
    step = max(total // 10, 1)
    if done == total or done % step == 0:
        logger.info("  %d of %d %s", done, total, what)
