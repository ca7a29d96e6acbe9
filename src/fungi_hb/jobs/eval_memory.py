"""The evaluation memory and its index: extracted in resumable pieces and assembled on the first process
(into ``--save-eval-memory`` or the work folder), or reused from a folder an earlier run saved with the
same identity; then indexed once, in the work folder, for every process to load."""

import logging
import shutil
from pathlib import Path

import torch

from fungi_hb.data.datasets.base import ClassSpec
from fungi_hb.data.samples import Sample
from fungi_hb.errors import UserError
from fungi_hb.features.setup import EVAL_STAGE, FeatureSetup
from fungi_hb.identity import MemoryIdentity, differences
from fungi_hb.index import FileSource, IndexConfig, NeighborIndex, build_index, load_index, save_index
from fungi_hb.index.registry import INDEX_META
from fungi_hb.jobs.configs import EvalJob
from fungi_hb.jsonable import to_jsonable
from fungi_hb.memory.build import assemble_memory, extract_memory_pieces
from fungi_hb.memory.files import BankMeta, BankPaths, commit_bank, new_memory_id, prepare_outputs, read_bank
from fungi_hb.memory.plan import MemoryPlan
from fungi_hb.memory.types import Memory
from fungi_hb.runs import distributed
from fungi_hb.runs.distributed import World
from fungi_hb.runs.store import PieceStore
from fungi_hb.runs.work import work_key
from fungi_hb.storage import commit
from fungi_hb.storage.matrix_file import open_matrix

logger = logging.getLogger(__name__)


def load_saved_memory(folder: Path, identity: MemoryIdentity) -> tuple[BankPaths, BankMeta]:
    """A memory saved by ``--save-eval-memory``, refused unless whole and made with this run's identity."""
    fix = "Use the settings it was made with, or build a new one (drop --load-eval-memory)."
    paths = BankPaths.in_folder(folder)
    meta = read_bank(paths, f"Save it again with --save-eval-memory. {fix}", allow_published=False)
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
    samples: list[Sample],
    classes: ClassSpec,
    plan: MemoryPlan | None,
    identity: MemoryIdentity,
    store: PieceStore | None,
    images_per_piece: int,
    world: World,
) -> tuple[BankPaths, BankMeta]:
    """The evaluation memory on disk, whole, on every process."""
    if job.load_eval_memory is not None:
        return load_saved_memory(Path(job.load_eval_memory), identity)
    info = setup.info
    pieces = extract_memory_pieces(
        samples, info.input_size, job.transform, job.data, job.seed, EVAL_STAGE, plan, setup.extract,
        info.patch_size, classes, images_per_piece, store, world, f"{job.features} memory",
    )  # fmt: skip
    distributed.barrier(world)
    folder = Path(job.save_eval_memory) if job.save_eval_memory is not None else store.folder / "memory"
    paths = BankPaths.in_folder(folder)
    if world.is_main and _reusable(paths, identity, store.key) is None:
        folder.mkdir(parents=True, exist_ok=True)
        prepare_outputs(paths)
        token = commit.new_token()
        staged = {role: commit.staged_path(path, token) for role, path in paths.parts().items()}
        try:
            width = classes.num_classes
            assemble_memory(pieces, store, staged["features"], staged["labels"], plan.rows, setup.dim, width)
            meta = BankMeta(new_memory_id(), identity, plan.rows, setup.dim, width, {"pieces": store.key})
            commit_bank(paths, staged, meta)
        finally:
            for path in staged.values():
                commit.discard(path)
        if job.save_eval_memory is not None:
            logger.info("Saved the evaluation memory to %s (rerun with --load-eval-memory %s)", folder, folder)
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
    folder = root / work_key("eval-index", meta.memory_id, config) / "index"
    if world.is_main:
        existing = folder / INDEX_META
        if not (existing.is_file() and meta.memory_id in existing.read_text()):
            index = build_index(FileSource(paths.features), config, device)
            staged = commit.staged_path(folder, commit.new_token())
            try:
                save_index(index, staged, config, meta.memory_id)
                commit.commit([(staged, folder)], folder.with_name("index.commit.json"))
            finally:
                commit.discard(staged)
    distributed.barrier(world)
    return load_index(folder, device, open_matrix(paths.features))


def remove_index_folder(folder: Path) -> None:
    shutil.rmtree(folder.parent, ignore_errors=True)


def memory_summary(meta: BankMeta, index_meta: dict) -> dict:
    return {"memory_id": meta.memory_id, "index": to_jsonable(index_meta.get("settings", {}))}
