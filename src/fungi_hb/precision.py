"""Which precision a run computes in."""

import logging
from dataclasses import dataclass

import torch

logger = logging.getLogger(__name__)


def autocast_dtype(device: torch.device, use_fp16: bool) -> torch.dtype | None:
    """bfloat16 autocast on CUDA when ``runtime.use_fp16`` is given; float32 (None) otherwise."""
    if not use_fp16:
        return None
    if device.type != "cuda":  # expected where the published commands run on a CPU: a note, not a warning
        logger.info("`runtime.use_fp16` is for CUDA: running in float32 on the CPU.")
        return None
    return torch.bfloat16


def precision_name(dtype: torch.dtype | None) -> str:
    return "bfloat16" if dtype == torch.bfloat16 else "float32"


@dataclass(frozen=True)
class Placement:
    """Where the work of a batch runs, and in which precision."""

    device: torch.device
    autocast_dtype: torch.dtype | None = None  # bfloat16 on CUDA with `runtime.use_fp16`; None: float32

    @property
    def name(self) -> str:
        return precision_name(self.autocast_dtype)
