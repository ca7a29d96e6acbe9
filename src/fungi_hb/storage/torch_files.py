"""The one way this package reads ``.pth`` files (tensors only, never arbitrary pickled objects) and writes
them (a failed write is an ``OSError``, like any other)."""

import argparse
import errno
from pathlib import Path
from typing import Any

import torch

from fungi_hb.errors import UserError
from fungi_hb.storage.atomic import atomic_path


def read_torch_file(path: Path, what: str, fix: str, allow_namespace: bool = False, mmap: bool = False) -> Any:
    """``torch.load`` with ``weights_only=True`` (explicitly, whatever the environment says).

    Args:
        path: the file.
        what: what the file is, for messages ("memory bank", "checkpoint", ...).
        fix: what the user should do when the file is missing or damaged.
        allow_namespace: also accept ``argparse.Namespace`` objects (DINO's full checkpoints hold one).
        mmap: map the file instead of reading it (tensors are paged in when used).
    Raises:
        UserError naming the file when it is missing, damaged or holds code.
    """
    path = Path(path)
    if not path.is_file():
        state = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise UserError(f"The {what} {path} {state}. {fix}")
    allowed = [argparse.Namespace] if allow_namespace else []
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:  # a truncated, non-torch or code-carrying file: one line naming it
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in reason or "Unsupported global" in reason:  # torch's advice would be unsafe
            reason = "it is not a file of plain tensors"
        raise UserError(f"Cannot read the {what} {path} ({reason[:200]}). {fix}") from exc


def read_matrix(path: Path, what: str, fix: str, mmap: bool = False) -> torch.Tensor:
    """A 2-D tensor from ``path`` (see ``read_torch_file``)."""
    tensor = read_torch_file(path, what, fix, mmap=mmap)
    if not torch.is_tensor(tensor) or tensor.ndim != 2:
        kind = f"a {tensor.ndim}-D tensor" if torch.is_tensor(tensor) else f"a {type(tensor).__name__}"
        raise UserError(f"The {what} {path} holds {kind}, not a 2-D tensor. {fix}")
    return tensor


def save_tensor(obj: Any, path: Path) -> None:
    """``torch.save`` atomically (plain tensors, so other tools load them with ``torch.load``)."""
    with atomic_path(path) as tmp:
        write_torch(obj, tmp)


def write_torch(obj: Any, path: Path) -> None:
    """``torch.save``, whose write failures (a full disk, a quota) come as ``RuntimeError``: raised here as
    ``OSError`` naming the file, so that they end a run with one line."""
    try:
        torch.save(obj, path)
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else "unknown error"
        raise OSError(errno.EIO, f"writing failed ({reason}); is the disk full?", str(path)) from exc
