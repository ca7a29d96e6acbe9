"""The projection matrix R on disk. Ours is a plain int8 tensor of +1/-1. The published code saves a dict
holding the matrix and its scaling factor; a global scale does not change FUNGI features (they are
normalised), so from such a dict we take the one matrix of the right shape, whose entries must be +c/-c
for a single c > 0. What the matrix must hold is checked by its user (``fungi.projection``)."""

import logging
from pathlib import Path

import torch

from fungi_hb.errors import UserError
from fungi_hb.storage.torch_files import read_torch_file, save_tensor

logger = logging.getLogger(__name__)
FIX = "Give a file written by `save_projection_matrix` (or the published code) for the same `backbone.model` and layer."


def _matrix_from_dict(content: dict, shape: tuple[int, int]) -> torch.Tensor:
    """The single tensor of ``shape`` in a dict (the published format), as +1/-1."""
    matrices = [v for v in content.values() if torch.is_tensor(v) and tuple(v.shape) == shape]
    if len(matrices) != 1:
        found = {k: tuple(v.shape) for k, v in content.items() if torch.is_tensor(v)}
        raise ValueError(f"the file holds a dict with tensors {found}, none (or several) of shape {shape}")
    matrix = matrices[0].float()
    scale = matrix.abs().max()
    if scale == 0 or not torch.all(matrix.abs() == scale):
        raise ValueError("its matrix does not hold +c/-c entries for a single c")
    return torch.sign(matrix)


def load_projection_matrix(path: Path, shape: tuple[int, int]) -> torch.Tensor:
    """The matrix in ``projection_matrix`` (ours, or the published dict format, taking its matrix of
    ``shape``)."""
    content = read_torch_file(Path(path), "projection matrix (`projection_matrix`)", FIX)
    try:
        if isinstance(content, dict):
            content = _matrix_from_dict(content, shape)
            logger.info("`projection_matrix` %s is in the published format (matrix and scaling).", path)
        if not torch.is_tensor(content):
            raise ValueError(f"the file holds a {type(content).__name__}, not a tensor")
        return content
    except ValueError as exc:
        raise UserError(f"`projection_matrix` {path}: {exc}. {FIX}") from exc


def save_projection(matrix: torch.Tensor, path: Path) -> None:
    save_tensor(matrix.to(torch.int8).cpu(), Path(path))
    logger.info("Saved the projection matrix to %s", path)
