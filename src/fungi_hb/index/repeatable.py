"""Index builds that repeat. A ScaNN build over rows with ties (duplicate patches are common: flat
regions, padding, repeated augmentations) depends on where the process's memory lies, which address-space
randomisation changes from run to run: the same memory gave different neighbours in different processes.
With randomisation off the build repeats exactly. So a backend whose build is not repeatable in process
is built here in a child process started with randomisation off (Linux ``personality(ADDR_NO_RANDOMIZE)``,
what ``setarch -R`` does), reading the rows from their file and writing the index folder; the caller
then loads the folder. Where randomisation cannot be turned off, the child says so with a warning.

Run as ``python -m fungi_hb.index.repeatable REQUEST_JSON``; only ``build_folder`` starts it.
"""

import json
import logging
import subprocess
import sys
from pathlib import Path

from fungi_hb.errors import UserError
from fungi_hb.index.base import IndexConfig

logger = logging.getLogger(__name__)

ADDR_NO_RANDOMIZE = 0x0040000
# Sets the personality flag, then becomes the real child: the flag takes effect at exec.
_LAUNCHER = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
current = libc.personality(0xFFFFFFFF)
done = current != -1 and libc.personality(current | {flag}) != -1
os.environ["FUNGI_HB_ASLR_OFF"] = "1" if done else "0"
os.execv(sys.executable, [sys.executable, "-m", "fungi_hb.index.repeatable", *sys.argv[1:]])
""".format(flag=ADDR_NO_RANDOMIZE)


def build_folder(features: Path, folder: Path, config: IndexConfig, memory_id: str) -> None:
    """Build the index of the rows in ``features`` (a tensor file) into ``folder``, in a child process with
    address-space randomisation off. Its log lines are logged here; its user errors raised here."""
    request = json.dumps(
        {"features": str(features), "folder": str(folder), "config": config.__dict__, "memory_id": memory_id}
    )
    child = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, request], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    last = ""
    for line in child.stderr.splitlines():  # LEVEL|message from the child's logging; anything else as is
        level, _, message = line.partition("|")
        if level in ("DEBUG", "INFO", "WARNING", "ERROR") and message:
            logger.log(getattr(logging, level), "%s", message)
            last = message if level == "ERROR" else last
        elif line.strip():
            logger.debug("%s", line)
    if child.returncode == 2:
        raise UserError(last or "The index build failed.")
    if child.returncode != 0:
        tail = "\n".join(child.stderr.splitlines()[-20:])
        raise RuntimeError(f"The index build process failed (exit status {child.returncode}):\n{tail}")


def _main(request_json: str) -> int:
    from fungi_hb.index.registry import build_index, save_index
    from fungi_hb.index.source import FileSource

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s|%(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    request = json.loads(request_json)
    if __import__("os").environ.get("FUNGI_HB_ASLR_OFF") != "1":
        logger.warning(
            "Address-space randomisation could not be turned off for the index build: a memory with duplicate "
            "rows may give a slightly different index in another run."
        )
    try:
        config = IndexConfig(**request["config"])
        index = build_index(FileSource(Path(request["features"])), config, "cpu")
        save_index(index, Path(request["folder"]), config, request["memory_id"])
    except UserError as exc:
        logger.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))
