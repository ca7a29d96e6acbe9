"""Runs under torchrun: which process this is, its device, and the few collective steps the jobs need.

Plain ``python script.py`` is a world of one process and touches no ``torch.distributed`` state. Under
``torchrun`` (``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` set) the process group is NCCL with one GPU per
process on CUDA, gloo on CPUs, with a timeout so that a lost process ends the job instead of hanging it.
"""

import datetime
import logging
import os

import torch
import torch.distributed as dist

from fungi_hb.errors import UserError
from fungi_hb.runs.world import World

__all__ = ["World", "barrier", "device_for", "start", "stop", "world_from_env"]

logger = logging.getLogger(__name__)


def world_from_env() -> World:
    """The world torchrun describes in the environment (one process when it does not)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    return World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))


def start(world: World, device: torch.device, timeout_minutes: float) -> None:
    """Join the process group (no-op for one process)."""
    if not world.distributed or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    timeout = datetime.timedelta(minutes=timeout_minutes)
    kwargs = {"device_id": device} if device.type == "cuda" else {}
    dist.init_process_group(backend=backend, timeout=timeout, **kwargs)
    logger.info("Process %d of %d (%s, %s)", world.rank, world.size, backend, device)


def stop() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def device_for(name: str, world: World) -> torch.device:
    """``auto``/``cuda``: this process's GPU (``cuda:LOCAL_RANK``) when CUDA is there; ``cpu`` otherwise."""
    if name not in ("auto", "cpu") and not name.startswith("cuda"):
        raise UserError(f"Unknown `runtime.device` {name!r}: use auto, cpu or cuda.")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UserError("`runtime.device` cuda was asked for but no CUDA GPU is visible. Use `runtime.device` cpu.")
    if name.startswith("cuda:") and not world.distributed:
        return torch.device(name)
    if world.local_rank >= torch.cuda.device_count():
        raise UserError(
            f"Process {world.rank} wants GPU {world.local_rank} but {torch.cuda.device_count()} are visible: "
            "give torchrun --nproc_per_node at most the number of GPUs."
        )
    torch.cuda.set_device(world.local_rank)
    return torch.device("cuda", world.local_rank)
