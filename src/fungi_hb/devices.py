"""Which device and precision a run uses."""

import logging

import torch

from .errors import UserError

logger = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """``auto`` means CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA GPU is visible. Use --device cpu.")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise UserError(f"Unknown --device {name!r}: use auto, cpu or cuda.")
    return torch.device(name)


def autocast_dtype(device: torch.device, use_fp16: bool) -> torch.dtype | None:
    """bfloat16 autocast on CUDA when ``--use-fp16`` is given; float32 (None) otherwise."""
    if not use_fp16:
        return None
    if device.type != "cuda":
        logger.warning("--use-fp16 has no effect on the CPU: running in float32.")
        return None
    return torch.bfloat16
