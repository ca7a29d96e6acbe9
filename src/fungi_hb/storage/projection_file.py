"""The projection matrix R on disk: ours (a plain int8 tensor) on save; on load ours or any tensor of
+1/-1 with the right shape."""

import logging
from pathlib import Path

import torch

from ..errors import UserError
from ..fungi.projection import check_projection
from .torch_files import read_torch_file, save_tensor

logger = logging.getLogger(__name__)


def load_projection(path: Path, out_dim: int, in_dim: int) -> torch.Tensor:
    """[out_dim, in_dim] int8 matrix from ``--projection-matrix``; refused clearly when it does not fit."""
    fix = "Give a file written by --save-projection-matrix for the same --model and --gradients-layer."
    matrix = read_torch_file(Path(path), "projection matrix (--projection-matrix)", fix)
    if not torch.is_tensor(matrix):
        raise UserError(f"--projection-matrix {path} holds a {type(matrix).__name__}, not a tensor. {fix}")
    try:
        return check_projection(matrix, out_dim, in_dim)
    except ValueError as exc:
        raise UserError(f"--projection-matrix {path}: {exc}. {fix}") from exc


def save_projection(matrix: torch.Tensor, path: Path) -> None:
    save_tensor(matrix.to(torch.int8).cpu(), Path(path))
    logger.info("Saved the projection matrix to %s", path)
