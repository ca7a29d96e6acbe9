"""The settings of dense FUNGI features, one bundle (METHOD section 6)."""

from dataclasses import dataclass
from enum import Enum


class NeighborLayout(str, Enum):
    """How the K retrieved vectors of a token become its negatives."""

    PUBLISHED = "published"  # the published code's scrambled layout; reproduces the paper
    TRUE = "true"  # the retrieved vectors themselves


@dataclass(frozen=True)
class FungiConfig:
    """How FUNGI features are made from a backbone, a head and the support index."""

    gradients_layer: str = "backbone.blocks.-1.attn.proj"  # Linear layer whose per-token gradients are taken (-1: last)
    latent_dim: int = 96  # L, output width of the random head fc
    num_negative_neighbors: int = 2  # n_neg, negatives per token (capped at the support index's k)
    negative_batch_percent: float = 0.5  # q, probability of keeping each pooled negative (>= 1 keeps all)
    simclr_temperature: float = 0.07  # tau of the SimCLR loss
    negatives_layout: NeighborLayout = NeighborLayout.PUBLISHED  # published (the paper) or true neighbours
    projection_chunk: int | None = None  # tokens per projection chunk (None: about 256 MiB of gradients)
