"""The support bank of create_memory_bank.py as eval_gradients.py uses it: its features (mapped from their
file) and index, checked to be whole and made for this run's backbone before the long part, and the
retrieval of negatives."""

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from fungi_hb.errors import UserError
from fungi_hb.identity import FeatureIdentity, differences
from fungi_hb.index import NeighborIndex, index_belongs, load_index
from fungi_hb.memory.files import BankPaths, read_bank
from fungi_hb.storage.torch_files import read_matrix

logger = logging.getLogger(__name__)


@dataclass
class Support:
    """The support memory and index that give the negatives."""

    features: torch.Tensor  # [Ms, E], where look-ups next to the index are cheapest (GPU, or mapped file)
    index: NeighborIndex
    k: int  # neighbours the index returns per query
    memory_id: str | None  # the bank's id; None for a bank of the published code
    source: Path  # the features file, for messages

    def neighbors(self, tokens: torch.Tensor) -> torch.Tensor:
        """Raw tokens [B, T, E] -> their k retrieved support vectors [B, T, K, E] (on the tokens' device)."""
        batch, num_tokens, embed = tokens.shape
        ids = self.index.search(tokens.reshape(-1, embed), self.k)  # (B*T, K)
        vectors = self.features[ids.to(self.features.device)].to(tokens.device, torch.float32)  # (B*T, K, E)
        finite = torch.isfinite(vectors).all(dim=-1)  # (B*T, K)
        if not finite.all():  # a damaged support bank, not the backbone: say which rows
            rows = sorted(set(ids[~finite.to(ids.device)].tolist()))
            raise UserError(
                f"The support memory {self.source} holds NaN or infinite values in row{'s' if len(rows) > 1 else ''} "
                f"{', '.join(map(str, rows[:5]))}{', ...' if len(rows) > 5 else ''}, retrieved as negatives. Rebuild "
                "the support bank with create_memory_bank.py."
            )
        return vectors.reshape(batch, num_tokens, self.k, embed)


def load_support(
    features_path: Path | None,
    index_path: Path | None,
    expected: FeatureIdentity,
    embed_dim: int,
    device: torch.device,
    train_ids_sha1: str | None = None,
) -> Support:
    """Load the support memory and index and check that they are whole and were made with ``expected``
    features (raw features of this run's backbone, weights, input size, normalisation and seed), and warn
    if they come from other training images than ``train_ids_sha1`` (this run's)."""
    if features_path is None or index_path is None:
        raise UserError(
            "FUNGI features need the support index: set `support_features` and `support_index` "
            "made by create_memory_bank.py (or use `features` embeddings)."
        )
    fix = (
        "Rebuild the support index with create_memory_bank.py and the same `backbone.model`, `backbone.weights`, "
        "`backbone.input_size`, `transform.std` and `seed`."
    )
    meta = read_bank(BankPaths(Path(features_path), None, Path(index_path)), fix, allow_published=True)
    features = read_matrix(features_path, "support memory (`support_features`)", fix, mmap=True)  # (Ms, E), mapped
    if features.shape[1] != embed_dim:
        raise UserError(
            f"The support memory {features_path} has {features.shape[1]} dims but {expected.model} gives "
            f"{embed_dim}. Build it with the same `backbone.model`."
        )
    if meta is not None:
        diffs = differences(meta.identity.features, expected)
        if diffs:
            raise UserError(
                f"The support memory {features_path} was made with other settings ({'; '.join(diffs)}). {fix}"
            )
        if train_ids_sha1 is not None and meta.identity.train_ids_sha1 != train_ids_sha1:
            logger.warning(
                "The support memory %s was built from other training images (dataset %s there) than this run "
                "uses: negatives come from those images. The paper draws them from the same training images; "
                "build the support index with this run's `data.data_dir` and training list for that.",
                features_path,
                meta.identity.dataset,
            )
    index, index_meta = load_index(index_path, device, features)
    memory_id = meta.memory_id if meta is not None else None
    if not index_belongs(index_path, memory_id):
        raise UserError(f"The index {index_path} was not built from {features_path}. {fix}")
    for key, value in (("size", features.shape[0]), ("dim", features.shape[1])):
        if index_meta.get(key) not in (None, value):
            raise UserError(f"The index {index_path} has {key} {index_meta[key]} but the memory has {value}. {fix}")
    return Support(index.place(features), index, index.returned_k(), memory_id, Path(features_path))
