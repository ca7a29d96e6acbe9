"""Checks made before the long part of a job. The core raises plain ``ValueError``s in its own words;
here they become ``UserError``s that name the flag to change."""

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from fungi_hb.errors import UserError
from fungi_hb.fungi.token_gradients import concrete_path, resolve_linear
from fungi_hb.memory.plan import MemoryPlan, plan_memory
from fungi_hb.memory.types import MemoryConfig
from fungi_hb.storage.atomic import check_writable

logger = logging.getLogger(__name__)
GIB = 2**30


def memory_plan(config: MemoryConfig, num_images: int, patches: int, num_neighbors: int) -> MemoryPlan:
    """The memory's rows, checked against the size rule (``memory.memory_size``) and k (``index.num_neighbors``)."""
    try:
        plan = plan_memory(config, num_images, patches)
    except ValueError as exc:
        raise UserError(
            f"`memory.memory_size` {config.memory_size}: {exc}. Change `memory.memory_size`, or leave it unset to "
            "keep every patch."
        ) from exc
    if num_neighbors > plan.rows:
        raise UserError(
            f"`index.num_neighbors` {num_neighbors} exceeds the {plan.rows} rows the memory will hold. "
            "Lower `index.num_neighbors` or raise `memory.memory_size`."
        )
    return plan


@dataclass(frozen=True)
class MemoryFiles:
    """What a memory will write to disk: its pieces in the work folder, then its two files."""

    rows: int  # M
    dim: int  # D
    width: int  # W, the values of a row
    value_bytes: int  # bytes of one value in a piece (2 for float16 class shares)
    work: Path  # the work folder
    files: Path  # the folder of the memory's files


def _existing(path: Path) -> Path:
    path = Path(path).absolute()
    while not path.exists():
        path = path.parent
    return path


def memory_fits_on_disk(memory: MemoryFiles, what: str) -> None:
    """Refuse, before the long part, a memory whose pieces and files would not fit on the disks they go to."""
    pieces = memory.rows * (memory.dim * 4 + memory.width * memory.value_bytes)
    files = memory.rows * (memory.dim + memory.width) * 4
    needs: dict[int, list] = {}  # device -> [bytes, folder]
    for folder, need in ((memory.work, pieces), (memory.files, files)):
        place = _existing(folder)
        entry = needs.setdefault(os.stat(place).st_dev, [0, place])
        entry[0] += need
    for need, place in needs.values():
        free = shutil.disk_usage(place).free
        if need > free:
            raise UserError(
                f"The {what} of {memory.rows} rows x {memory.dim} needs about {need / GIB:.1f} GiB of disk under "
                f"{place} (its pieces, then its files) but {free / GIB:.1f} GiB are free there. Lower "
                "`memory.memory_size` or `memory.augmentation_epochs`, free space, or give `runtime.work_dir` on "
                "another disk."
            )


def outputs(
    files: dict[str, Path | None], folders: dict[str, Path | None], inputs: dict[str, Path | None], work_folder: Path
) -> None:
    """Before anything runs: every output can be written where it is asked for (a file where a file is
    wanted, a folder where a folder is), none would overwrite an input or another output, and the work
    folder is a folder. Each dict maps a job field to its path (None: not given)."""
    for field, path in files.items():
        if path is not None and Path(path).is_dir():
            raise UserError(f"`{field}` {path} is a folder; give a file path (e.g. {Path(path) / 'file'}).")
        if path is not None:
            check_writable(path)
    for field, path in folders.items():
        if path is not None and Path(path).exists() and not Path(path).is_dir():
            raise UserError(f"`{field}` {path} is a file; give a folder path.")
        if path is not None:
            check_writable(Path(path) / "probe")
    _separate({**files, **folders}, inputs)
    if Path(work_folder).exists() and not Path(work_folder).is_dir():
        raise UserError(
            f"The work folder {work_folder} is a file. Set `runtime.work_dir` to a folder, or move the file."
        )


def _named(field: str) -> str:
    """A job field in backticks (shown as its flag by the scripts); a description as it is."""
    return f"`{field}`" if " " not in field else field


def _separate(outputs: dict[str, Path | None], inputs: dict[str, Path | None]) -> None:
    """Refuse outputs that would overwrite an input or each other: the same path, or one inside another
    (a folder output holding an input file, an output file inside an input index folder, ...)."""

    def overlap(a: Path, b: Path) -> bool:
        return a == b or a in b.parents or b in a.parents

    given_outputs = [(field, Path(p).absolute()) for field, p in outputs.items() if p is not None]
    given_inputs = [(field, Path(p).absolute()) for field, p in inputs.items() if p is not None]
    for i, (field, path) in enumerate(given_outputs):
        for other_field, other in given_outputs[i + 1 :] + given_inputs:
            if overlap(path.resolve(), other.resolve()):
                kind = "input" if (other_field, other) in given_inputs else "output"
                raise UserError(
                    f"{_named(field)} {path} would overwrite or sit inside the {kind} {_named(other_field)} {other}. "
                    "Give it a path of its own."
                )


def gradients_layer(model: nn.Module, path: str) -> tuple[str, nn.Linear]:
    """The Linear layer named by ``fungi.gradients_layer``, and its path with block indices counted from the
    start (what identities record: ``backbone.blocks.-1.attn.proj`` of a 12-block ViT is
    ``backbone.blocks.11.attn.proj``)."""
    try:
        return concrete_path(model, path), resolve_linear(model, path)
    except LookupError as exc:
        raise UserError(f"`fungi.gradients_layer`: {exc.args[0]}.") from exc


def capped_negatives(requested: int, available: int) -> int:
    """Quirk 3: more negatives than the support index returns are capped, with a warning."""
    if requested < 1:
        raise UserError("`fungi.num_negative_neighbors` must be at least 1.")
    if requested > available:
        logger.warning(
            "%d negatives per token asked for (`fungi.num_negative_neighbors`/`fungi.num_negative_neighbors`), but the "
            "support index returns %d neighbours: using %d.",
            requested,
            available,
            available,
        )
        return available
    return requested
