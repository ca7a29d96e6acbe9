"""The shared main-wrapper: logging, user errors as one line with exit status 2, Ctrl-C as one line with
130, and under torchrun a failed process reported by the first one."""

import logging
import signal
from pathlib import Path
from typing import Callable

import torch

from fungi_hb.cli.fields import flag_names
from fungi_hb.cli.one_line import one_line
from fungi_hb.errors import UserError
from fungi_hb.log import copied_to, setup_logging
from fungi_hb.runs import distributed, work
from fungi_hb.runs.distributed import World, world_from_env

logger = logging.getLogger("fungi_hb")


class Terminated(BaseException):
    """SIGTERM: torchrun stops the remaining processes when one has failed."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def _peer_lost(exc: Exception) -> bool:
    """Whether a collective step broke because another process of the job is gone."""
    lost = ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "NCCL communicator was aborted")
    return isinstance(exc, getattr(torch.distributed, "DistError", ())) or any(text in str(exc) for text in lost)


def _report_stop(reasons: list[str], resume: str) -> None:
    logger.error("The job was stopped because %s. %s", "; ".join(r.rstrip(".") for r in reasons), resume)


def run_main(job: Callable[[World], object], log_level: str, work_dir: Path, log_file: Path | None = None) -> int:
    """Run ``job(world)``; 0 on success, 2 for a user error or a failed file operation (also where a step
    shared with another process broke because that one had failed: the first process says why), 130 when
    interrupted, 143 when stopped by torchrun after another process failed."""
    world = world_from_env()
    setup_logging(log_level, world.rank)
    started = work.started_at()
    if world.distributed:
        signal.signal(signal.SIGTERM, _terminate)
    resume = f"Finished pieces are kept in {work_dir}: rerun the same command to resume."
    with flag_names(), copied_to(log_file if world.is_main else None):
        try:
            try:
                job(world)
            finally:
                if world.distributed:  # the outcome is decided: torchrun's SIGTERM, sent to the others once
                    # one process has exited, must not cut the report short or kill this one as it shuts down
                    signal.signal(signal.SIGTERM, signal.SIG_IGN)
        except KeyboardInterrupt:
            logger.error("Interrupted. %s", resume if work_dir.is_dir() else "Nothing was written.")
            return 130
        except Terminated:
            if world.is_main:
                reasons = work.failures(work_dir, started, world) or [
                    "another process stopped (see its messages above)"
                ]
                _report_stop(reasons, resume)
            return 143
        except Exception as exc:
            message = one_line(exc)
            others = work.failures(work_dir, started, world) if world.distributed and message is None else []
            if not others and world.distributed and message is None and _peer_lost(exc):
                others = ["another process stopped without a word (killed by a signal, or by the out-of-memory killer; "
                          "torchrun's lines say which)"]  # fmt: skip
            if others:  # a collective step broke (gloo: "Connection closed by peer") as another process had failed
                logger.debug("Traceback", exc_info=True)
                if world.is_main:
                    _report_stop(others, resume)
                return 2
            if world.distributed:
                work.note_failure(work_dir, world, message or f"{type(exc).__name__}: {exc}")
            if message is None:
                raise
            logger.debug("Traceback", exc_info=True)
            logger.error(
                "%s", message if isinstance(exc, UserError) or not work_dir.is_dir() else f"{message} {resume}"
            )
            return 2
        finally:
            distributed.stop()
    return 0
