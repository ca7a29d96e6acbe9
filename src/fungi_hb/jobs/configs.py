"""The two jobs as typed, frozen configs: what one run of each script needs, callable without argparse.

Every field that the scripts offer declares its flag where it is defined (``settings.setting``); a job's
default instance holds the scripts' defaults (``MemoryBankJob()`` is what ``create_memory_bank.py`` runs
with no flags). ``cli/`` derives the parsers, the field-to-flag table and the job from the flags.
"""

from dataclasses import dataclass
from pathlib import Path

from fungi_hb.data.config import DataConfig
from fungi_hb.data.transform_config import TransformConfig
from fungi_hb.features.config import BackboneConfig
from fungi_hb.fungi.config import FungiConfig
from fungi_hb.index.config import IndexConfig
from fungi_hb.memory.config import MemoryConfig
from fungi_hb.runs.work import work_root
from fungi_hb.settings import Flag, nested, positive_float, positive_int, seed, setting

RUNTIME = "runtime (does not change the features beyond float rounding)"
SUPPORT = "support index (from create_memory_bank.py)"
OUTPUTS = "outputs (committed together: a later run sees all of them new, or all old)"
EVALUATION = "evaluation"
SUPPORT_FOLDER = Path("support_index")  # where the published commands keep the support bank


@dataclass(frozen=True)
class Runtime:
    """Where and how a job runs; none of it changes the features (beyond float rounding)."""

    device: str = setting(
        "auto", Flag("--device", RUNTIME, "auto (this process's GPU when there is one), cpu or cuda.")
    )
    use_fp16: bool = setting(
        False, Flag("--use-fp16", RUNTIME, "bfloat16 autocast on CUDA (backbone and projection); ignored on the CPU.")
    )
    work_dir: Path | None = setting(
        None,
        Flag(
            "--work-dir",
            RUNTIME,
            "Where finished pieces wait until the outputs are committed, so that a rerun of a killed job resumes.",
            parse=Path,
            shown_default=".fungi-work beside the main output",
        ),
    )
    piece_images: int | None = setting(
        None,
        Flag(
            "--piece-images",
            RUNTIME,
            "Images per saved piece (rounded up to a multiple of --batch-size).",
            parse=positive_int,
            shown_default="about 64",
        ),
    )
    dist_timeout_minutes: float = setting(
        180.0,
        Flag(
            "--dist-timeout-minutes",
            RUNTIME,
            "Under torchrun: how long a process waits for the others at a step before the job fails.",
            parse=positive_float,
        ),
    )


def _seed() -> int:
    return setting(
        42, Flag("--seed", "data", "Seeds subsets, augmentations, patch sampling, head and projection.", parse=seed)
    )


@dataclass(frozen=True)
class MemoryBankJob:
    """One run of create_memory_bank.py: raw patch features -> support memory bank -> its index."""

    backbone: BackboneConfig = nested(BackboneConfig)
    data: DataConfig = nested(lambda: DataConfig(batch_size=32), hidden=("val_list",))
    seed: int = _seed()  # seeds the training subset, augmentations, patch sampling and random weights
    transform: TransformConfig = nested(TransformConfig)
    memory: MemoryConfig = nested(MemoryConfig)
    index: IndexConfig = nested(  # the support index (k = 5 in the published commands)
        lambda: IndexConfig(num_neighbors=5),
        help={
            "num_neighbors": "k of the support index: neighbours returned per query (5 as published; "
            "eval_gradients.py takes its negatives from the first of them)."
        },
        hidden=("sharded",),
    )
    features_path: Path = setting(
        SUPPORT_FOLDER / "features.pth", Flag("--memory-bank", OUTPUTS, "Features [M, E] (a plain tensor).", parse=Path)
    )
    labels_path: Path = setting(
        SUPPORT_FOLDER / "labels.pth",
        Flag(
            "--memory-bank-labels",
            OUTPUTS,
            "Patch labels [M, C], C the number of classes of the dataset (21 for Pascal VOC; a plain tensor).",
            parse=Path,
        ),
    )
    index_dir: Path = setting(SUPPORT_FOLDER / "index", Flag("--scann-index", OUTPUTS, "Index folder.", parse=Path))
    runtime: Runtime = nested(Runtime)

    def work_folder(self) -> Path:
        """Where finished pieces wait (``runtime.work_dir``, else beside the bank)."""
        return work_root(self.runtime.work_dir, self.features_path)


@dataclass(frozen=True)
class EvalJob:
    """One run of eval_gradients.py: evaluation memory -> HummingBird label transfer -> matched mIoU."""

    backbone: BackboneConfig = nested(BackboneConfig)
    data: DataConfig = nested(DataConfig)
    seed: int = _seed()  # seeds the subset, augmentations, sampling, head, projection and negative draws
    transform: TransformConfig = nested(TransformConfig)
    memory: MemoryConfig = nested(MemoryConfig)
    index: IndexConfig = nested(  # the evaluation index (k = index.num_neighbors)
        IndexConfig,
        help={
            "num_neighbors": "k of the evaluation index: memory neighbours whose labels each validation patch takes "
            "(30; 90 for the data-efficient runs)."
        },
    )
    support_features: Path | None = setting(
        SUPPORT_FOLDER / "features.pth",
        Flag("--memory-bank", SUPPORT, "Support memory features; negatives are looked up here.", parse=Path),
    )
    support_index: Path | None = setting(
        SUPPORT_FOLDER / "index", Flag("--scann-index", SUPPORT, "Support index folder.", parse=Path)
    )
    features: str = setting(
        "fungi",
        Flag(
            "--features",
            "FUNGI features",
            "fungi (gradients + features, the paper) or embeddings (raw features baseline).",
            choices=("fungi", "embeddings"),
        ),
    )
    embeddings_source: str = setting(
        "tokens",
        Flag(
            "--embeddings-source",
            "FUNGI features",
            "With --features embeddings: tokens (the final normalised tokens, which FUNGI also uses) or keys (the last "
            "block's attention keys, the published HummingBird library's default).",
            choices=("tokens", "keys"),
        ),
    )
    fungi: FungiConfig = nested(FungiConfig)
    projection_matrix: Path | None = setting(
        None, Flag("--projection-matrix", "FUNGI features", "Load the +1/-1 projection from here.", parse=Path)
    )
    save_projection_matrix: Path | None = setting(
        None, Flag("--save-projection-matrix", "FUNGI features", "Save the projection here.", parse=Path)
    )
    temperature: float = setting(
        0.02,
        Flag(
            "--temperature",
            EVALUATION,
            "Label-transfer softmax temperature (0.02; 0.1 for the data-efficient runs).",
            parse=positive_float,
        ),
    )
    output: Path | None = setting(
        None, Flag("--output", EVALUATION, "Write a JSON results file here (and the log beside it, .log).", parse=Path)
    )
    save_eval_memory: Path | None = setting(
        None,
        Flag("--save-eval-memory", EVALUATION, "Keep the evaluation memory in this folder for reruns.", parse=Path),
    )
    load_eval_memory: Path | None = setting(
        None,
        Flag(
            "--load-eval-memory",
            EVALUATION,
            "Reuse an evaluation memory saved with --save-eval-memory (settings must match).",
            parse=Path,
        ),
    )
    save_predictions: Path | None = setting(
        None,
        Flag(
            "--save-predictions",
            EVALUATION,
            "Write pictures (image | ground truth | prediction) of the first --num-predictions validation images into "
            "this folder, with an index.html.",
            parse=Path,
        ),
    )
    num_predictions: int = setting(
        8, Flag("--num-predictions", EVALUATION, "Validation images pictured.", parse=positive_int)
    )
    runtime: Runtime = nested(Runtime)

    def work_folder(self) -> Path:
        """Where finished pieces wait (``runtime.work_dir``, else beside the results file or the saved memory)."""
        return work_root(self.runtime.work_dir, self.output or self.save_eval_memory)
