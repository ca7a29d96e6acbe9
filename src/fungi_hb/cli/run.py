"""The shared main-wrapper: logging, user errors as one line with exit status 2, Ctrl-C as one line with
130, and under torchrun a failed process reported by the first one."""

import logging
import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import torch

from fungi_hb.cli.fields import flag_names, render
from fungi_hb.errors import UserError
from fungi_hb.log import copied_to, setup_logging
from fungi_hb.runs import distributed, work
from fungi_hb.runs.distributed import World, world_from_env
from fungi_hb.storage.atomic import final_path

logger = logging.getLogger("fungi_hb")


class Terminated(BaseException):
    """SIGTERM: torchrun stops the remaining processes when one has failed."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def _one_line(exc: Exception) -> str | None:
    """What to tell the user, in one line, about an exception that is theirs to fix (bad input, a failed
    file operation, too little memory); None for anything else (a bug: its traceback is shown)."""
    if isinstance(exc, UserError):
        return render(str(exc))
    if isinstance(exc, OSError):  # a full disk, a quota, a read-only or vanished folder, a failing drive
        shown = final_path(Path(exc.filename)) if isinstance(exc.filename, str) else None
        where = f" (while writing {shown})" if shown is not None and shown.name != Path(exc.filename).name else ""
        where = where or (f" ({exc.filename})" if exc.filename else "")
        reason = exc.strerror or str(exc) or type(exc).__name__
        return (
            f"A file operation failed: {reason}{where}. Nothing partial was kept as a result; free space or fix "
            "the folder, then rerun."
        )
    text = str(exc)
    if isinstance(exc, torch.cuda.OutOfMemoryError) or "can't allocate memory" in text or "out of memory" in text:
        return (
            f"Ran out of memory ({text.strip().splitlines()[0][:200]}). Lower --batch-size (or --latent-dim, "
            "--memory-size), or use a machine or GPU with more memory."
        )
    return None


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
            message = _one_line(exc)
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


class Outcome:
    """The exit status a block of ``one_line_errors`` ended with."""

    status = 0


@contextmanager
def one_line_errors() -> Iterator[Outcome]:
    """For the helper scripts (preparing data, collecting tables): a user error or a failed file operation
    in the block is one line and exit status 2, Ctrl-C one line and 130."""
    outcome = Outcome()
    with flag_names():  # settings named as the scripts' flags, as in their own messages
        try:
            yield outcome
        except KeyboardInterrupt:
            logger.error("Interrupted.")
            outcome.status = 130
        except (UserError, OSError) as exc:
            logger.error("%s", _one_line(exc))
            outcome.status = 2
