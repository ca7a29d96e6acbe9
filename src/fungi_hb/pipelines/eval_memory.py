"""The evaluation memory: filled from augmented training images (and kept if asked), or reused from a
folder written by an earlier run with the same identity."""

import logging
from pathlib import Path

from ..data.layout import NUM_CLASSES, Sample
from ..errors import UserError
from ..identity import MemoryIdentity, differences
from ..memory.fill import fill_memory
from ..memory.plan import MemoryPlan
from ..memory.types import Memory
from ..storage.memory_files import BankMeta, load_memory, new_memory_id, read_meta, save_memory, write_meta
from .feature_setup import EVAL_STAGE, FeatureSetup
from .jobs import EvalJob
from .loaders import train_epochs

logger = logging.getLogger(__name__)


def load_evaluation_memory(folder: Path, identity: MemoryIdentity) -> Memory:
    """A memory saved by ``--save-eval-memory``, refused unless it was made with this run's identity."""
    fix = "Use the settings it was made with, or build a new one (drop --load-eval-memory)."
    memory = load_memory(folder / "features.pth", folder / "labels.pth")
    meta = read_meta(folder / "features.pth")
    if meta is None:
        raise UserError(
            f"{folder} holds no metadata, so it is not an evaluation memory saved with --save-eval-memory. {fix}"
        )
    diffs = differences(meta.identity, identity)
    if diffs:
        raise UserError(f"The evaluation memory in {folder} was made with other settings ({'; '.join(diffs)}). {fix}")
    return memory


def save_evaluation_memory(memory: Memory, folder: Path, identity: MemoryIdentity) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_memory(memory, folder / "features.pth", folder / "labels.pth")
    meta = BankMeta(
        memory_id=new_memory_id(),
        identity=identity,
        rows=int(memory.features.shape[0]),
        dim=int(memory.features.shape[1]),
        num_classes=int(memory.labels.shape[1]),
    )
    write_meta(folder / "features.pth", meta)
    logger.info("Saved the evaluation memory to %s (rerun with --load-eval-memory %s)", folder, folder)


def evaluation_memory(
    job: EvalJob, setup: FeatureSetup, samples: list[Sample], plan: MemoryPlan | None, identity: MemoryIdentity
) -> Memory:
    """Fill the evaluation memory (and keep it if asked), or reuse a kept one made with the same identity."""
    if job.load_eval_memory is not None:
        memory = load_evaluation_memory(Path(job.load_eval_memory), identity)
    else:
        info = setup.info
        epochs = train_epochs(  # the evaluation memory draws its own augmentations (stage "eval")
            samples,
            info.input_size,
            job.transform,
            job.data,
            job.seed,
            EVAL_STAGE,
            plan.epochs,
            f"{job.features} memory",
        )
        memory = fill_memory(epochs, setup.extract, plan, info.patch_size, NUM_CLASSES, setup.dim)
        if job.save_eval_memory is not None:
            save_evaluation_memory(memory, Path(job.save_eval_memory), identity)
    if memory.features.shape[1] != setup.dim:
        raise UserError(f"The evaluation memory has {memory.features.shape[1]} dims, {setup.dim} expected.")
    return memory
