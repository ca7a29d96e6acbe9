"""How an error reaches the user: one line that names the problem and the fix, and the exit status. Torch-free,
so that the helper scripts (collecting tables, preparing data) start in a fraction of a second."""

import logging
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from fungi_hb.cli.fields import flag_names, render
from fungi_hb.errors import UserError
from fungi_hb.storage.atomic import final_path

logger = logging.getLogger("fungi_hb")


def one_line(exc: Exception) -> str | None:
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
    torch = sys.modules.get("torch")  # loaded by any run that can run out of GPU memory; not imported here
    cuda_oom = torch is not None and isinstance(exc, torch.cuda.OutOfMemoryError)
    if cuda_oom or "can't allocate memory" in text or "out of memory" in text:
        return (
            f"Ran out of memory ({text.strip().splitlines()[0][:200]}). Lower --batch-size (or --latent-dim, "
            "--memory-size), or use a machine or GPU with more memory."
        )
    return None


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
            logger.error("%s", one_line(exc))
            outcome.status = 2
