"""ScaNN builds that repeat: the same rows and settings give the same index files, in any process.

Why a separate process. A ScaNN build over rows with ties (patch memories have them: flat regions,
repeated augmentations) breaks the ties by a per-process hash seed that its C++ libraries take from where
their code was loaded in memory. So the same rows gave different indexes in different processes: with
address-space randomisation, with another ``PYTHONHASHSEED``, with another ``OMP_NUM_THREADS`` (what
torchrun sets), even with other environment variables, since each changes what is mapped before ScaNN
loads. Within one process every build is the same (measured: four builds with the heap shifted between
them), and a saved index searches the same in every process.

So every build runs in a fresh child whose memory layout is fixed: randomisation off (Linux
``personality(ADDR_NO_RANDOMIZE)``, what ``setarch -R`` does), a fixed environment, a fixed command line,
ScaNN loaded before anything else, and no torch. The rows and settings come through its stdin, the index
files go to a folder; the parent then loads that folder. The index is thus a function of the rows and the
settings alone (on one machine and install). The child costs about 0.2 s besides the build itself.

This module imports neither torch nor ScaNN at import time: the parent side only writes bytes, and the
child side (``child_main``) is started by the launcher below.
"""

import json
import logging
import os
import struct
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Protocol

import numpy as np

from fungi_hb.errors import UserError

logger = logging.getLogger(__name__)

ROW_IDS = "row_ids.npy"  # streamed builds: the memory row of each index point
ADDR_NO_RANDOMIZE = 0x0040000
CHILD_ENV = {  # the whole environment of the child: the same in every run
    "PYTHONHASHSEED": "0",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "LC_ALL": "C",
    "PYTHONDONTWRITEBYTECODE": "1",
}
# ScaNN first, then the package (its path on the first line of stdin), then the build.
_CHILD = (
    "from scann.scann_ops.py import scann_builder, scann_ops_pybind\n"
    "import sys\n"
    "sys.path.insert(0, sys.stdin.buffer.readline().decode().strip())\n"
    "from fungi_hb.index.scann_build import child_main\n"
    "sys.exit(child_main())\n"
)
# Turns randomisation off, then becomes the child: the flag takes effect at exec.
_LAUNCHER = f"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
current = libc.personality(0xFFFFFFFF)
done = current != -1 and libc.personality(current | {ADDR_NO_RANDOMIZE}) != -1
env = dict({CHILD_ENV!r}, FUNGI_HB_ASLR_OFF="1" if done else "0")
if "LD_LIBRARY_PATH" in os.environ:
    env["LD_LIBRARY_PATH"] = os.environ["LD_LIBRARY_PATH"]
os.chdir("/")
os.execve(sys.executable, [sys.executable, "-c", {_CHILD!r}], env)
"""


@dataclass(frozen=True)
class ScannRecipe:
    """How to build: the published builder chain's settings, leaves already clamped to the rows."""

    num_neighbors: int  # k, fixed at build time
    num_leaves: int
    num_leaves_to_search: int
    dimensions_per_block: int
    anisotropic_quantization_threshold: float
    num_reordering_candidates: int
    reorder_precision: str  # float32, bfloat16 or int8
    rows: int  # M
    dim: int  # D
    sample: int | None  # streamed builds: rows trained on (sent first, their ids after the header); else None


class RowSource(Protocol):
    """The rows to index (``index.source.FeatureSource`` is one)."""

    rows: int
    dim: int

    def chunks(self, chunk_rows: int) -> Iterator: ...  # [n, D] float32 tensors, in order

    def take(self, ids) -> object: ...  # [n, D] float32 tensor of rows ``ids`` (sorted)


def training_ids(rows: int, sample: int) -> np.ndarray:
    """The sorted ids of the rows a streamed build trains on: a seeded draw that depends on ``rows`` only."""
    return np.sort(np.random.default_rng(rows).permutation(rows)[:sample]).astype(np.int64)


def _as_bytes(rows) -> bytes:
    """A [n, D] tensor (or array) as float32 bytes, row-major."""
    array = rows.detach().cpu().numpy() if hasattr(rows, "detach") else np.asarray(rows)
    return np.ascontiguousarray(array, dtype=np.float32).tobytes()


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])


def build_in_clean_process(source: RowSource, recipe: ScannRecipe, folder: Path, chunk_rows: int) -> None:
    """Build the ScaNN index of ``source``'s rows into ``folder`` (ScaNN's files, and for streamed builds
    ``row_ids.npy``) in a child with a fixed memory layout. Its log lines are logged here; a user error
    there is raised here; a child killed by a signal (the out-of-memory killer sends SIGKILL) is one."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    header = json.dumps({"recipe": asdict(recipe), "folder": str(folder.resolve())}).encode()
    child = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _send(child, header, source, recipe, chunk_rows)
    except BrokenPipeError:
        pass  # the child stopped early: its stderr says why
    finally:
        if child.stdin and not child.stdin.closed:
            try:
                child.stdin.close()
            except BrokenPipeError:
                pass
    errors = child.stderr.read().decode(errors="replace")
    child.wait()
    _report_child(child.returncode, errors)


def _send(child: subprocess.Popen, header: bytes, source: RowSource, recipe: ScannRecipe, chunk_rows: int) -> None:
    pipe = child.stdin
    pipe.write(_package_root().encode() + b"\n")
    pipe.write(struct.pack("<Q", len(header)) + header)
    if recipe.sample is not None:
        ids = training_ids(recipe.rows, recipe.sample)
        pipe.write(ids.tobytes())
        for start in range(0, len(ids), chunk_rows):
            pipe.write(_as_bytes(source.take(_tensor_ids(ids[start : start + chunk_rows]))))
    for chunk in source.chunks(chunk_rows):
        pipe.write(_as_bytes(chunk))
    pipe.flush()


def _tensor_ids(ids: np.ndarray):
    import torch  # the parent has torch; the child never gets here

    return torch.from_numpy(ids)


def _report_child(status: int, errors: str) -> None:
    last = ""
    for line in errors.splitlines():  # LEVEL|message from the child's logging; anything else (ScaNN's C++ log)
        level, _, message = line.partition("|")
        if level in ("DEBUG", "INFO", "WARNING", "ERROR") and message:
            logger.log(getattr(logging, level), "%s", message)
            last = message if level == "ERROR" else last
        elif line.strip():
            native_error = line[:1] in ("E", "F") and line[1:5].isdigit()
            logger.log(logging.WARNING if native_error else logging.DEBUG, "%s", line.rstrip())
    if status == 0:
        return
    if status == 2:
        raise UserError(last or "The index build failed.")
    if status < 0:
        raise UserError(
            f"The index build process was killed (signal {-status}; the system's out-of-memory killer sends "
            "signal 9). Use a machine with more RAM, or build the index streamed (`index.build` streamed, "
            "`index.reorder_precision` int8)."
        )
    tail = "\n".join(errors.splitlines()[-20:])
    raise RuntimeError(f"The index build process failed (exit status {status}):\n{tail}")


# ---------------------------------------------------------------- the child


def _read_into(stream, buffer: memoryview) -> None:
    """Fill ``buffer`` from ``stream`` (an error if the parent sent less)."""
    done = 0
    while done < len(buffer):
        got = stream.readinto(buffer[done:])
        if not got:
            raise EOFError(f"the parent sent {done} of {len(buffer)} bytes")
        done += got


def _read_rows(stream, count: int, dim: int) -> np.ndarray:
    """[count, dim] float32 rows from ``stream``, read straight into their array."""
    rows = np.empty((count, dim), dtype=np.float32)
    _read_into(stream, memoryview(rows).cast("B"))
    return rows


def _read_ids(stream, count: int) -> np.ndarray:
    ids = np.empty(count, dtype=np.int64)
    _read_into(stream, memoryview(ids).cast("B"))
    return ids


def searcher_for(data: np.ndarray, recipe: ScannRecipe):
    """A ScaNN searcher over ``data`` [n, D] float32 with the published builder chain (child only)."""
    from scann.scann_ops.py import scann_builder, scann_ops_pybind

    quantize = getattr(scann_builder.ReorderType, recipe.reorder_precision.upper())
    return (
        scann_ops_pybind.builder(data, recipe.num_neighbors, "dot_product")
        .tree(
            num_leaves=recipe.num_leaves,
            num_leaves_to_search=recipe.num_leaves_to_search,
            training_sample_size=data.shape[0],
        )
        .score_ah(
            recipe.dimensions_per_block, anisotropic_quantization_threshold=recipe.anisotropic_quantization_threshold
        )
        .reorder(recipe.num_reordering_candidates, quantize=quantize)
        .build()
    )


def _build(stream, recipe: ScannRecipe, folder: Path) -> None:
    if recipe.sample is None:
        searcher_for(_read_rows(stream, recipe.rows, recipe.dim), recipe).serialize(str(folder), relative_path=True)
        return
    ids = _read_ids(stream, recipe.sample)
    logging.getLogger(__name__).info(
        "Training the ScaNN tree and quantiser on %d of %d rows, then adding the rest.", recipe.sample, recipe.rows
    )
    searcher = searcher_for(_read_rows(stream, recipe.sample, recipe.dim), recipe)
    searcher.searcher.reserve(recipe.rows)
    in_sample = np.zeros(recipe.rows, dtype=bool)
    in_sample[ids] = True
    added, start, step = [ids], 0, 65536
    while start < recipe.rows:
        rows = _read_rows(stream, min(step, recipe.rows - start), recipe.dim)
        keep = ~in_sample[start : start + len(rows)]
        if keep.any():
            searcher.searcher.upsert([None] * int(keep.sum()), np.ascontiguousarray(rows[keep]), 4096)
            added.append(np.arange(start, start + len(rows))[keep])
        start += len(rows)
    searcher.serialize(str(folder), relative_path=True)
    np.save(folder / ROW_IDS, np.concatenate(added))


def child_main() -> int:
    """The child: read the header and rows from stdin, build, write the folder. 0, or 2 for a user error."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s|%(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    log = logging.getLogger(__name__)
    if os.environ.get("FUNGI_HB_ASLR_OFF") != "1":
        log.warning(
            "Address-space randomisation could not be turned off for the index build: a memory with duplicate "
            "rows may give a slightly different index in another run."
        )
    stream = sys.stdin.buffer
    (length,) = struct.unpack("<Q", stream.read(8))
    request = json.loads(stream.read(length))
    try:
        _build(stream, ScannRecipe(**request["recipe"]), Path(request["folder"]))
    except (ValueError, RuntimeError) as exc:  # ScaNN's refusals of a configuration
        log.error("ScaNN could not build the index (%s). Try `index.backend` exact.", str(exc).splitlines()[0])
        return 2
    return 0
