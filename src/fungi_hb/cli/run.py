"""The shared main-wrapper: logging, user errors as one line with exit status 2, Ctrl-C as one line with
130, and under torchrun a failed process reported by the first one."""

import logging
import signal
import time
from pathlib import Path
from typing import Callable

import torch

from .. import distributed
from ..distributed import World, world_from_env
from ..errors import UserError
from ..log import setup_logging

logger = logging.getLogger("fungi_hb")


class Terminated(BaseException):
    """SIGTERM: torchrun stops the remaining processes when one has failed."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def _note_failure(folder: Path, world: World, message: str) -> None:
    """Leave a line for the first process, which reports failures of the others."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"rank-{world.rank}.txt").write_text(message + "\n")
    except OSError:
        pass


def _failures(folder: Path, since: float) -> list[str]:
    if not folder.is_dir():
        return []
    notes = [p for p in sorted(folder.glob("rank-*.txt")) if p.stat().st_mtime >= since]
    return [f"process {p.stem.removeprefix('rank-')}: {p.read_text().strip()}" for p in notes]


def _out_of_memory(exc: RuntimeError) -> bool:
    """CUDA's OutOfMemoryError, or the CPU allocator's "can't allocate memory"."""
    text = str(exc)
    return isinstance(exc, torch.cuda.OutOfMemoryError) or "can't allocate memory" in text or "out of memory" in text


def run_main(job: Callable[[World], object], log_level: str, work_dir: Path) -> int:
    """Run ``job(world)``; 0 on success, 2 for a user error or a failed file operation, 130 when
    interrupted, 143 when stopped by torchrun after another process failed."""
    world = world_from_env()
    setup_logging(log_level, world.rank)
    failures = work_dir / "failures"
    started = time.time() - 60
    if world.distributed:
        signal.signal(signal.SIGTERM, _terminate)
    resume = f"Finished pieces are kept in {work_dir}: rerun the same command to resume."
    try:
        job(world)
    except UserError as exc:
        logger.error("%s", exc)
        if world.distributed:
            _note_failure(failures, world, str(exc))
        return 2
    except OSError as exc:  # a full disk, a quota, a read-only or vanished folder, a failing drive
        where = f" ({exc.filename})" if exc.filename else ""
        reason = exc.strerror or str(exc) or type(exc).__name__
        logger.debug("Traceback of the failed file operation", exc_info=True)
        logger.error(
            "A file operation failed: %s%s. Nothing partial was kept as a result; free space or fix the folder, "
            "then rerun. %s",
            reason,
            where,
            resume if work_dir.is_dir() else "",
        )
        if world.distributed:
            _note_failure(failures, world, f"{reason}{where}")
        return 2
    except RuntimeError as exc:
        if not _out_of_memory(exc):
            if world.distributed:
                _note_failure(failures, world, f"{type(exc).__name__}: {exc}")
            raise
        reason = str(exc).strip().splitlines()[0][:200]
        logger.debug("Traceback of the failed allocation", exc_info=True)
        logger.error(
            "Ran out of memory (%s). Lower --batch-size (or --latent-dim, --memory-size), or use a machine or "
            "GPU with more memory. %s",
            reason,
            resume if work_dir.is_dir() else "",
        )
        if world.distributed:
            _note_failure(failures, world, f"out of memory: {reason}")
        return 2
    except KeyboardInterrupt:
        logger.error("Interrupted. %s", resume if work_dir.is_dir() else "Nothing was written.")
        return 130
    except Terminated:
        if world.is_main:
            reasons = _failures(failures, started) or ["another process stopped (see its messages above)"]
            logger.error("The job was stopped because %s. %s", "; ".join(reasons), resume)
        return 143
    except Exception as exc:
        if world.distributed:
            _note_failure(failures, world, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        distributed.stop()
    return 0
