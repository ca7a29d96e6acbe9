"""The evaluation memory and its index: extracted in resumable pieces and assembled on the first process
(into ``save_eval_memory`` or the work folder), or reused from a folder an earlier run saved with the
same identity; then indexed once, in the work folder, for every process to load."""

import logging
from pathlib import Path

import torch

from fungi_hb.errors import UserError
from fungi_hb.identity import MemoryIdentity, differences
from fungi_hb.index import IndexConfig, NeighborIndex, build_index_folder, index_belongs, load_index
from fungi_hb.index.sharded import load_sharded
from fungi_hb.jobs.configs import EvalJob
from fungi_hb.jobs.feature_setup import FeatureSetup
from fungi_hb.memory.build import MemoryRecipe, assemble_memory, extract_memory_pieces
from fungi_hb.memory.files import BankMeta, BankPaths, bank_transaction, new_memory_id, read_bank, write_sidecar
from fungi_hb.memory.types import Memory
from fungi_hb.runs import distributed
from fungi_hb.runs.distributed import World
from fungi_hb.runs.runner import Loading
from fungi_hb.runs.store import PieceStore
from fungi_hb.runs.work import assembled_memory_folder, work_folder
from fungi_hb.storage.matrix_file import open_matrix
from fungi_hb.storage.transaction import staged_folder

logger = logging.getLogger(__name__)


def load_saved_memory(folder: Path, identity: MemoryIdentity) -> tuple[BankPaths, BankMeta]:
    """A memory saved by ``save_eval_memory``, refused unless whole and made with this run's identity."""
    fix = "Use the settings it was made with, or build a new one (drop `load_eval_memory`)."
    paths = BankPaths.in_folder(folder)
    meta = read_bank(paths, f"Save it again with `save_eval_memory`. {fix}", allow_published=False)
    diffs = differences(meta.identity, identity)
    if diffs:
        raise UserError(f"The evaluation memory in {folder} was made with other settings ({'; '.join(diffs)}). {fix}")
    return paths, meta


def _reusable(paths: BankPaths, identity: MemoryIdentity, pieces_key: str) -> BankMeta | None:
    """The memory already assembled from these very pieces by an earlier, interrupted run, if any."""
    if not paths.meta.is_file():
        return None
    try:
        meta = read_bank(paths, "", allow_published=False)
    except UserError:
        return None
    return meta if meta.identity == identity and meta.info.get("pieces") == pieces_key else None


def evaluation_memory(
    job: EvalJob,
    setup: FeatureSetup,
    recipe: MemoryRecipe | None,
    identity: MemoryIdentity,
    store: PieceStore | None,
    loading: Loading,
    world: World,
) -> tuple[BankPaths, BankMeta]:
    """The evaluation memory on disk, whole, on every process: loaded (``job.load_eval_memory``; no recipe
    nor store then), or extracted in pieces and assembled by the first process."""
    if job.load_eval_memory is not None:
        return load_saved_memory(Path(job.load_eval_memory), identity)
    extract_memory_pieces(recipe, setup.extract, store, loading, world, f"{job.features} memory")
    distributed.barrier(world)
    folder = Path(job.save_eval_memory) if job.save_eval_memory is not None else assembled_memory_folder(store.folder)
    paths = BankPaths.in_folder(folder)
    if world.is_main and _reusable(paths, identity, store.key) is None:
        folder.mkdir(parents=True, exist_ok=True)
        rows, width = recipe.plan.rows, recipe.rule.width
        with bank_transaction(paths) as staged:
            assemble_memory(recipe, store, loading.images_per_piece, staged, setup.dim)
            meta = BankMeta(new_memory_id(), identity, rows, setup.dim, width, {"pieces": store.key})
            write_sidecar(paths, staged, meta)
        if job.save_eval_memory is not None:
            logger.info("Saved the evaluation memory to %s (rerun with `load_eval_memory` %s)", folder, folder)
    distributed.barrier(world)
    return paths, read_bank(paths, "Rerun the same command.", allow_published=False)


def open_memory(paths: BankPaths) -> Memory:
    """The memory's tensors, mapped from their files (rows are read when used)."""
    return Memory(open_matrix(paths.features), open_matrix(paths.labels))


def evaluation_index(
    paths: BankPaths, meta: BankMeta, config: IndexConfig, root: Path, device: torch.device, world: World
) -> tuple[NeighborIndex, dict]:
    """The memory's index: built once (by the first process, or found from an interrupted run) in the work
    folder, then loaded by every process."""
    folder = index_folder(root, meta, config)
    if world.is_main and not index_belongs(folder, meta.memory_id):
        with staged_folder(folder) as staged:
            build_index_folder(paths.features, staged, config, meta.memory_id, device)
    distributed.barrier(world)
    if config.sharded and world.distributed:
        return load_sharded(folder, open_matrix(paths.features), device, world.rank, world.size)
    if config.sharded:
        logger.warning("`index.sharded`: this is one process, which searches the whole memory itself.")
    return load_index(folder, device, open_matrix(paths.features))


def index_folder(root: Path, meta: BankMeta, config: IndexConfig) -> Path:
    """Where the evaluation index of a memory waits in the work folder."""
    return work_folder(root, "eval-index", meta.memory_id, config) / "index"
