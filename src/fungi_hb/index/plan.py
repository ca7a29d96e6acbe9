"""Before the long part: will the index fit in RAM, and how should it be built? The need is computed from
the actual settings (rows, width, backend, build, re-ranking precision) on top of what the process
already holds; ``auto`` settings take the published way (every row at once, float32 re-ranking) when it
fits, else the leanest way that does, with a warning. When nothing fits, the error says what would."""

import logging
import os
from dataclasses import replace

from fungi_hb.errors import UserError
from fungi_hb.index.config import IndexConfig
from fungi_hb.index.registry import backend, resolve_backend
from fungi_hb.log import size
from fungi_hb.system import available_ram_bytes, process_rss_bytes

logger = logging.getLogger(__name__)
GIB = 2**30
WORKING_MARGIN = 2 * GIB  # activations, loaders, allocator slack on top of what the process holds


def _candidates(config: IndexConfig) -> list[IndexConfig]:
    """The ways to build, most faithful first, allowed by the user's settings."""
    builds = ["in-memory", "streamed"] if config.build == "auto" else [config.build]
    out = []
    for build in builds:
        if config.reorder_precision != "auto":
            precisions = [config.reorder_precision]
        elif build == "in-memory":
            precisions = ["float32"]
        else:
            precisions = list(backend(config.backend).precisions)
        out += [replace(config, build=build, reorder_precision=p) for p in precisions]
    return out


def _describe(config: IndexConfig) -> str:
    kind = backend(config.backend)
    precision = f", {config.reorder_precision} {kind.precision_of}" if len(kind.precisions) > 1 else ""
    return f"{config.backend} index built {config.build}{precision}"


def plan_index(config: IndexConfig, rows: int, dim: int, what: str, extra_bytes: int = 0) -> IndexConfig:
    """The index settings with nothing left on "auto", chosen so that the index fits in the RAM of this
    process (its share when several processes run on the node).

    Args:
        rows, dim: the memory the index will hold.
        what: "support" or "evaluation", for messages.
        extra_bytes: RAM the job will need besides the index and what the process holds now.
    Raises:
        UserError naming the settings that would fit, when none of the allowed ones does.
    """
    config = _resolved(config, rows)
    kind = backend(config.backend)
    kind.warn_about(rows, config)
    candidates = _candidates(config)
    available = available_ram_bytes()
    if available is None:
        return candidates[0]
    processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    budget = available // processes - WORKING_MARGIN - extra_bytes
    needs = [(c, kind.host_bytes(rows, dim, c)) for c in candidates]
    for choice, need in needs:
        if need <= budget:
            if choice != candidates[0]:
                logger.warning(
                    "The %s memory (%d rows x %d) does not fit in RAM the published way: using a %s (%s).",
                    what,
                    rows,
                    dim,
                    _describe(choice),
                    size(need),
                )
            else:
                logger.info("%s index: %s, about %s of RAM", what.capitalize(), _describe(choice), size(need))
            return choice
    raise _too_large(config, (rows, dim), needs, budget, what)


def _resolved(config: IndexConfig, rows: int) -> IndexConfig:
    """The backend chosen and checked, and a precision it keeps."""
    if config.sharded and config.backend not in ("auto", "exact"):
        raise UserError(
            f"`index.sharded` shares out an exact search, not a {config.backend} one: pass `index.backend` exact."
        )
    config = replace(config, backend="exact" if config.sharded else resolve_backend(config.backend, rows))
    kind = backend(config.backend)
    kind.check_config(config)
    kept = kind.precisions
    if config.reorder_precision in ("auto", *kept):
        return config
    nearest = kept[-1]  # the leanest the backend keeps (float32 where it keeps nothing else)
    logger.warning(
        "`index.reorder_precision` %s is not one the %s index keeps (%s %s): using %s.",
        config.reorder_precision,
        config.backend,
        " or ".join(kept),
        kind.precision_of,
        nearest,
    )
    return replace(config, reorder_precision=nearest)


def _too_large(
    config: IndexConfig, shape: tuple[int, int], needs: list[tuple[IndexConfig, int]], budget: int, what: str
) -> UserError:
    """The refusal when no allowed build fits: what each needs, and what would fit."""
    (rows, dim), kind = shape, backend(config.backend)
    leanest = replace(config, build="streamed", reorder_precision=kind.precisions[-1])
    lean_need = kind.host_bytes(rows, dim, leanest)
    per_row = max(1, lean_need // max(rows, 1))
    tried = "; ".join(f"{_describe(c)}: {n / GIB:.1f} GiB" for c, n in needs)
    hint = (
        f"`index.build` streamed `index.reorder_precision` int8 would need {lean_need / GIB:.1f} GiB"
        if lean_need <= budget
        else f"a memory of at most about {max(budget, 0) // per_row} rows would fit (lower `memory.memory_size`)"
    )
    rss = process_rss_bytes() or 0
    return UserError(
        f"The {what} index of {rows} rows x {dim} does not fit in RAM ({tried}; {budget / GIB:.1f} GiB free for it "
        f"with {rss / GIB:.1f} GiB already in use). {hint[0].upper() + hint[1:]}, or use a machine with more RAM."
    )
