"""The settings of dense FUNGI features, one bundle (METHOD section 6)."""

from dataclasses import dataclass
from enum import Enum

from fungi_hb.settings import Flag, positive_float, positive_int, probability, setting

GROUP = "FUNGI features"


class NeighborLayout(str, Enum):
    """How the K retrieved vectors of a token become its negatives."""

    PUBLISHED = "published"  # the published code's scrambled layout; reproduces the paper
    TRUE = "true"  # the retrieved vectors themselves


@dataclass(frozen=True)
class FungiConfig:
    """How FUNGI features are made from a backbone, a head and the support index."""

    gradients_layer: str = setting(
        "backbone.blocks.-1.attn.proj",
        Flag(
            "--gradients-layer",
            GROUP,
            "Dotted path of the Linear layer whose per-patch gradients are used; block indices may count from the end. "
            "With your own model: backbone.<path inside it>.",
        ),
    )
    latent_dim: int = setting(96, Flag("--latent-dim", GROUP, "Output size of the random head.", parse=positive_int))
    num_negative_neighbors: int = setting(
        2,
        Flag(
            "--num-negative-neighbors",
            GROUP,
            "Negatives per token from the support index (2 in the paper); --n-neighbors is the published README's "
            "alias. Capped at the index's k, with a warning.",
            parse=positive_int,
            aliases=("--n-neighbors",),
        ),
    )
    negative_batch_percent: float = setting(
        0.5,
        Flag(
            "--negative-batch-percent",
            GROUP,
            "Probability of keeping each pooled negative (1 keeps all).",
            parse=probability,
        ),
    )
    simclr_temperature: float = setting(
        0.07, Flag("--simclr-temperature", GROUP, "Temperature of the SimCLR loss.", parse=positive_float)
    )
    negatives_layout: NeighborLayout = setting(
        NeighborLayout.PUBLISHED,
        Flag(
            "--negatives-layout",
            GROUP,
            "published: the published code's scrambled neighbour layout (reproduces the paper); true: the retrieved "
            "neighbours themselves.",
            parse=NeighborLayout,
            choices=tuple(layout.value for layout in NeighborLayout),
        ),
    )
    projection_chunk: int | None = setting(
        None,
        Flag("--projection-chunk", GROUP, "Tokens per projection chunk.", parse=positive_int, shown_default="~256 MiB"),
    )
