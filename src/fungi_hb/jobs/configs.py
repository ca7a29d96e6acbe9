"""The two jobs as typed, frozen configs: what one run of each script needs, callable without argparse."""

from dataclasses import dataclass, field
from pathlib import Path

from fungi_hb.data.samples import DataConfig
from fungi_hb.data.transform_config import TransformConfig
from fungi_hb.features.config import BackboneConfig
from fungi_hb.fungi.config import FungiConfig
from fungi_hb.index.config import IndexConfig
from fungi_hb.memory.config import MemoryConfig
from fungi_hb.runs.work import work_root


@dataclass(frozen=True)
class Runtime:
    """Where and how a job runs; none of it changes the features (beyond float rounding)."""

    device: str = "auto"  # auto (this process's GPU when there is one), cpu or cuda
    use_fp16: bool = False  # bfloat16 autocast on CUDA
    work_dir: Path | None = None  # finished pieces wait here (default: .fungi-work beside the main output)
    piece_images: int | None = None  # images per saved piece (default about 64, a multiple of the batch size)
    dist_timeout_minutes: float = 180.0  # torchrun: how long a process waits for the others at a step


@dataclass(frozen=True)
class MemoryBankJob:
    """One run of create_memory_bank.py: raw patch features -> support memory bank -> its index."""

    seed: int  # seeds the training subset, augmentations, patch sampling and random weights
    backbone: BackboneConfig
    data: DataConfig
    transform: TransformConfig
    memory: MemoryConfig
    index: IndexConfig  # the support index (k = 5 in the published commands)
    features_path: Path  # the bank's features [M, E] (a .pth file)
    labels_path: Path  # the bank's labels [M, C] (a .pth file)
    index_dir: Path  # the bank's index folder
    runtime: Runtime = field(default_factory=Runtime)

    def work_folder(self) -> Path:
        """Where finished pieces wait (``runtime.work_dir``, else beside the bank)."""
        return work_root(self.runtime.work_dir, self.features_path)


@dataclass(frozen=True)
class EvalJob:
    """One run of eval_gradients.py: evaluation memory -> HummingBird label transfer -> matched mIoU."""

    seed: int  # seeds the subset, augmentations, sampling, head, projection and negative draws
    backbone: BackboneConfig
    data: DataConfig
    transform: TransformConfig
    memory: MemoryConfig
    index: IndexConfig  # the evaluation index (k = index.num_neighbors)
    features: str = "fungi"  # "fungi" or "embeddings" (raw backbone features)
    embeddings_source: str = "tokens"  # raw features: "tokens" (final normalised tokens) or "keys"
    fungi: FungiConfig = FungiConfig()
    projection_matrix: Path | None = None  # load R from here instead of making it from the seed
    save_projection_matrix: Path | None = None  # write R here
    support_features: Path | None = None  # a support bank's features_path (MemoryBankJob)
    support_index: Path | None = None  # its index_dir
    temperature: float = 0.02  # label-transfer temperature
    output: Path | None = None  # results JSON
    save_eval_memory: Path | None = None  # folder to keep the evaluation memory in
    load_eval_memory: Path | None = None  # folder to reuse an evaluation memory from
    save_predictions: Path | None = None  # folder for pictures of predictions
    num_predictions: int = 8  # validation images pictured (the first ones of the list)
    runtime: Runtime = field(default_factory=Runtime)

    def work_folder(self) -> Path:
        """Where finished pieces wait (``runtime.work_dir``, else beside the results file or the saved memory)."""
        return work_root(self.runtime.work_dir, self.output or self.save_eval_memory)
