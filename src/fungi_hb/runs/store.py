"""Finished pieces of a job on disk, in a folder named after the digest of everything that determines
them: pieces made with other settings are in another folder and never reused. Each piece is one
atomically written file holding its tensors and a SHA-256 checksum of them, so a killed run leaves only
whole pieces, and a piece damaged later (a bad disk, a hand edit) is caught when it is read, never used."""

import hashlib
import logging
import shutil
from contextlib import ExitStack
from pathlib import Path

import torch

from fungi_hb.runs.lock import Lock
from fungi_hb.runs.pieces import Piece
from fungi_hb.storage.atomic import atomic_path, save_json
from fungi_hb.storage.torch_files import write_torch

logger = logging.getLogger(__name__)


class DamagedPiece(ValueError):
    """A saved piece that cannot be read, or whose tensors are not what was saved."""


def checksum(key: str, piece: str, tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the job key, the piece name and every tensor's name, dtype, shape and bytes."""
    digest = hashlib.sha256(f"{key}\n{piece}\n".encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}\n".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


class PieceStore:
    """``root/<key>/``: ``job.json`` (what the pieces are) and one ``<piece>.pth`` per finished piece."""

    def __init__(self, root: Path, key: str, description: dict) -> None:
        self.folder = Path(root) / key
        self.key = key
        self.description = description
        self._lock: Lock | None = None

    def create(self) -> None:
        """Make the folder (idempotent; every process may call it)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if not (self.folder / "job.json").is_file():
            save_json(dict(self.description, key=self.key), self.folder / "job.json")

    def lock(self, stack: ExitStack) -> None:
        """Keep other runs out of these pieces until ``remove`` or until ``stack`` closes (the first process of
        a run calls it)."""
        self._lock = Lock(self.folder, f"the pieces in {self.folder}").acquire()
        stack.callback(self._lock.release)

    def path(self, piece: Piece) -> Path:
        return self.folder / f"{piece.name}.pth"

    def saved(self, piece: Piece) -> bool:
        return self.path(piece).is_file()

    def save(self, piece: Piece, tensors: dict[str, torch.Tensor]) -> None:
        content = {"key": self.key, "piece": piece.name, "checksum": checksum(self.key, piece.name, tensors)}
        with atomic_path(self.path(piece)) as tmp:
            write_torch({**content, "tensors": tensors}, tmp)

    def load(self, piece: Piece) -> dict[str, torch.Tensor]:
        """The piece's tensors.

        Raises:
            DamagedPiece: the file cannot be read, belongs elsewhere, or fails its checksum.
        """
        path = self.path(piece)
        try:
            content = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a damaged file
            reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            reason = reason.replace("`", "'")  # torch quotes code in backticks; ours mark job fields
            raise DamagedPiece(f"the piece {path} cannot be read ({reason})") from None
        if not isinstance(content, dict) or not isinstance(content.get("tensors"), dict):
            raise DamagedPiece(f"the piece {path} is not a piece of this version")
        if content.get("key") != self.key:
            raise DamagedPiece(f"the piece {path} belongs to another job")
        if content.get("piece") != piece.name:
            raise DamagedPiece(f"the piece {path} holds piece {content.get('piece')}, not {piece.name}")
        tensors = content["tensors"]
        if content.get("checksum") != checksum(self.key, piece.name, tensors):
            raise DamagedPiece(f"the piece {path} does not match its checksum (damaged after it was saved)")
        return tensors

    def reusable(self, piece: Piece) -> bool:
        """Whether a saved piece can be reused; a damaged one is deleted, with a warning, to be redone."""
        if not self.saved(piece):
            return False
        try:
            self.load(piece)
        except DamagedPiece as exc:
            logger.warning("Redoing a piece: %s.", exc)
            self.path(piece).unlink(missing_ok=True)
            return False
        return True

    def remove(self) -> None:
        """Delete the pieces (once what they made is committed; ``runs.work.finish_work`` then tidies the
        work folder)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        if self._lock is not None:
            self._lock.release()

    def finished(self) -> int:
        """Finished pieces on disk (from every process)."""
        return sum(1 for _ in self.folder.glob("e*.pth"))
