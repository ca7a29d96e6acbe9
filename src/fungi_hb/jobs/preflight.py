"""Checks made before the long part of a job. The core raises plain ``ValueError``s in its own words;
here they become ``UserError``s that name the flag to change."""

import logging
from pathlib import Path

from torch import nn

from fungi_hb.errors import UserError
from fungi_hb.fungi.token_gradients import resolve_linear
from fungi_hb.memory.plan import MemoryPlan, plan_memory
from fungi_hb.memory.types import MemoryConfig
from fungi_hb.storage.atomic import check_writable, remove_leftovers
from fungi_hb.system import available_ram_bytes

logger = logging.getLogger(__name__)
GIB = 2**30


def memory_plan(config: MemoryConfig, num_images: int, patches: int, num_neighbors: int) -> MemoryPlan:
    """The memory's rows, checked against the size rule (``--memory-size``) and k (``--num-neighbors``)."""
    try:
        plan = plan_memory(config, num_images, patches)
    except ValueError as exc:
        raise UserError(
            f"--memory-size {config.memory_size}: {exc}. Change --memory-size, or omit it to keep every patch."
        ) from exc
    if num_neighbors > plan.rows:
        raise UserError(
            f"--num-neighbors {num_neighbors} exceeds the {plan.rows} rows the memory will hold. "
            "Lower --num-neighbors or raise --memory-size."
        )
    return plan


def output_file(path: Path | None, flag: str) -> None:
    """An output file path that is not a folder and can be written."""
    if path is None:
        return
    if Path(path).is_dir():
        raise UserError(f"{flag} {path} is a folder; give a file path (e.g. {Path(path) / 'file'}).")
    check_writable(path)
    remove_leftovers(path)


def output_folder(path: Path | None, flag: str) -> None:
    """An output folder path that is not a file and can be written."""
    if path is None:
        return
    if Path(path).exists() and not Path(path).is_dir():
        raise UserError(f"{flag} {path} is a file; give a folder path.")
    check_writable(Path(path) / "probe")
    remove_leftovers(path)


def separate_paths(outputs: dict[str, Path | None], inputs: dict[str, Path | None]) -> None:
    """Refuse outputs that would overwrite an input or each other: the same path, or one inside another
    (a folder output holding an input file, an output file inside an input index folder, ...).

    Args:
        outputs, inputs: flag -> path (None: not given).
    """

    def overlap(a: Path, b: Path) -> bool:
        return a == b or a in b.parents or b in a.parents

    given_outputs = [(flag, Path(p).absolute()) for flag, p in outputs.items() if p is not None]
    given_inputs = [(flag, Path(p).absolute()) for flag, p in inputs.items() if p is not None]
    for i, (flag, path) in enumerate(given_outputs):
        for other_flag, other in given_outputs[i + 1 :] + given_inputs:
            if overlap(path.resolve(), other.resolve()):
                kind = "input" if (other_flag, other) in given_inputs else "output"
                raise UserError(
                    f"{flag} {path} would overwrite or sit inside the {kind} {other_flag} {other}. Give it a "
                    "path of its own."
                )


def work_folder(path: Path) -> None:
    """The work folder of resumable pieces must be a folder (or not exist yet)."""
    if Path(path).exists() and not Path(path).is_dir():
        raise UserError(f"The work folder {path} is a file. Pass --work-dir FOLDER, or move the file away.")


def check_fits_in_ram(rows: int, dim: int, num_classes: int) -> None:
    """Refuse a memory whose tensors alone exceed the available RAM; warn when the index build (which
    copies the features) may not fit."""
    available = available_ram_bytes()
    if available is None:
        return
    need = rows * (dim + num_classes) * 4
    if need > available:
        raise UserError(
            f"The memory bank needs {need / GIB:.1f} GiB ({rows} rows x {dim} dims, float32) but only "
            f"{available / GIB:.1f} GiB of RAM is available. Lower --memory-size or use a larger machine."
        )
    if 2 * need > available:
        logger.warning(
            "The memory bank takes %.1f GiB of the %.1f GiB available; building its index copies it "
            "and may run out of memory.",
            need / GIB,
            available / GIB,
        )


def gradients_layer(model: nn.Module, path: str) -> nn.Linear:
    """The Linear layer named by ``--gradients-layer``."""
    try:
        return resolve_linear(model, path)
    except LookupError as exc:
        raise UserError(f"--gradients-layer: {exc.args[0]}.") from exc


def capped_negatives(requested: int, available: int) -> int:
    """Quirk 3: more negatives than the support index returns are capped, with a warning."""
    if requested < 1:
        raise UserError("--num-negative-neighbors must be at least 1.")
    if requested > available:
        logger.warning(
            "%d negatives per token asked for (--num-negative-neighbors/--n-neighbors), but the "
            "support index returns %d neighbours: using %d.",
            requested,
            available,
            available,
        )
        return available
    return requested
