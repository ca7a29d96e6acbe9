"""The one table from job fields to flags. The package below ``cli/`` names settings by their field in
the typed jobs (``MemoryBankJob``, ``EvalJob``), quoted in backticks: `memory.memory_size`. Messages
shown to a user of the scripts name the flag instead: ``render`` rewrites errors and log lines."""

import logging
import re
from contextlib import contextmanager
from typing import Iterator

FLAGS: dict[str, str] = {
    "seed": "--seed",
    "backbone.model": "--model",
    "backbone.weights": "--weights",
    "backbone.input_size": "--input-size",
    "backbone.patch_size": "--patch-size",
    "data.data_dir": "--data-dir",
    "data.dataset": "--dataset",
    "data.keep_other": "--keep-other",
    "data.num_train_samples": "--num-train-samples",
    "data.train_list": "--train-list",
    "data.val_list": "--val-list",
    "data.batch_size": "--batch-size",
    "data.num_workers": "--num-workers",
    "transform.std": "--image-std",
    "memory.memory_size": "--memory-size",
    "memory.augmentation_epochs": "--augmentation-epochs",
    "index.backend": "--index-backend",
    "index.num_neighbors": "--num-neighbors",
    "index.num_leaves": "--num-leaves",
    "index.num_leaves_to_search": "--num-leaves-to-search",
    "index.num_reordering_candidates": "--num-reordering-candidates",
    "index.anisotropic_quantization_threshold": "--anisotropic-quantization-threshold",
    "index.dimensions_per_block": "--dimensions-per-block",
    "index.build": "--index-build",
    "index.reorder_precision": "--reorder-precision",
    "index.training_sample": "--index-training-sample",
    "index.chunk_rows": "--index-chunk-rows",
    "index.sharded": "--shard-exact-search",
    "features_path": "--memory-bank",  # MemoryBankJob
    "labels_path": "--memory-bank-labels",
    "index_dir": "--scann-index",
    "features": "--features",  # EvalJob
    "embeddings_source": "--embeddings-source",
    "fungi.gradients_layer": "--gradients-layer",
    "fungi.latent_dim": "--latent-dim",
    "fungi.num_negative_neighbors": "--num-negative-neighbors",
    "fungi.negative_batch_percent": "--negative-batch-percent",
    "fungi.simclr_temperature": "--simclr-temperature",
    "fungi.negatives_layout": "--negatives-layout",
    "fungi.projection_chunk": "--projection-chunk",
    "projection_matrix": "--projection-matrix",
    "save_projection_matrix": "--save-projection-matrix",
    "support_features": "--memory-bank",
    "support_index": "--scann-index",
    "temperature": "--temperature",
    "output": "--output",
    "save_eval_memory": "--save-eval-memory",
    "load_eval_memory": "--load-eval-memory",
    "save_predictions": "--save-predictions",
    "num_predictions": "--num-predictions",
    "runtime.device": "--device",
    "runtime.use_fp16": "--use-fp16",
    "runtime.work_dir": "--work-dir",
    "runtime.piece_images": "--piece-images",
    "runtime.dist_timeout_minutes": "--dist-timeout-minutes",
}

_FIELD = re.compile(r"`([a-z_][a-z0-9_.]*)`")


def render(text: str) -> str:
    """``text`` with every backticked job field that has a flag replaced by the flag."""
    return _FIELD.sub(lambda m: FLAGS.get(m.group(1), m.group(0)), text)


@contextmanager
def flag_names() -> Iterator[None]:
    """While the block runs, the package's log records name flags instead of fields (whatever handler
    shows them: the console, pytest's capture)."""
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.name.startswith("fungi_hb"):
            message = record.getMessage()
            if "`" in message:
                record.msg, record.args = render(message), ()
        return record

    logging.setLogRecordFactory(factory)
    try:
        yield
    finally:
        logging.setLogRecordFactory(previous)
