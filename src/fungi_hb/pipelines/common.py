"""Pieces both jobs share: feature extraction of raw backbone tokens, timers, environment facts."""

import importlib.metadata
import logging
import platform
import time
from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from .. import __version__
from ..memory_bank import FeatureFn

logger = logging.getLogger(__name__)


def embedding_fn(
    backbone: nn.Module, num_prefix_tokens: int, device: torch.device, autocast_dtype: torch.dtype | None
) -> FeatureFn:
    """images [B, 3, S, S] -> raw patch features [B, P, E] (METHOD section 3)."""

    @torch.no_grad()
    def extract(images: torch.Tensor) -> torch.Tensor:
        images = images.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
            tokens = backbone.forward_features(images)  # (B, T, E)
        return tokens[:, num_prefix_tokens:].float()  # (B, P, E)

    return extract


class StageTimer:
    """Wall-clock seconds of named stages, logged as they end."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 3)
        logger.info("%s took %.1f s", name, self.seconds[name])


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def environment(device: torch.device) -> dict:
    """Versions and device, for results files."""
    return {
        "package": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "timm": _version("timm"),
        "scann": _version("scann"),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name(),
        "cpu_threads": torch.get_num_threads(),
    }
