"""Finished pieces of a job on disk, in a folder named after the digest of everything that determines
them: pieces made with other settings are in another folder and never reused. Each piece is one
atomically written file, so a killed run leaves only whole pieces."""

import logging
import shutil
from pathlib import Path

import torch

from fungi_hb.errors import UserError
from fungi_hb.runs.pieces import Piece
from fungi_hb.storage.atomic import atomic_path, save_json
from fungi_hb.storage.torch_files import write_torch

logger = logging.getLogger(__name__)


class PieceStore:
    """``root/<key>/``: ``job.json`` (what the pieces are) and one ``<piece>.pth`` per finished piece."""

    def __init__(self, root: Path, key: str, description: dict) -> None:
        self.folder = Path(root) / key
        self.key = key
        self.description = description

    def create(self) -> None:
        """Make the folder (idempotent; every process may call it)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if not (self.folder / "job.json").is_file():
            save_json(dict(self.description, key=self.key), self.folder / "job.json")

    def path(self, piece: Piece) -> Path:
        return self.folder / f"{piece.name}.pth"

    def done(self, piece: Piece) -> bool:
        return self.path(piece).is_file()

    def save(self, piece: Piece, tensors: dict[str, torch.Tensor]) -> None:
        with atomic_path(self.path(piece)) as tmp:
            write_torch({"key": self.key, "piece": piece.name, **tensors}, tmp)

    def load(self, piece: Piece) -> dict[str, torch.Tensor]:
        path = self.path(piece)
        try:
            content = torch.load(path, map_location="cpu", weights_only=True)
            if content.get("key") != self.key:
                raise ValueError("it belongs to another job")
            if content.get("piece") != piece.name:
                raise ValueError(f"it holds piece {content.get('piece')}, not {piece.name}")
        except Exception as exc:
            raise UserError(
                f"The finished piece {path} cannot be read ({exc}). Delete it and rerun to redo it."
            ) from exc
        return content

    def remove(self) -> None:
        """Delete the pieces (once what they made is committed; ``pipelines.work.finish_work`` then tidies
        the work folder)."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def finished(self) -> int:
        """Finished pieces on disk (from every process)."""
        return sum(1 for _ in self.folder.glob("e*.pth"))
