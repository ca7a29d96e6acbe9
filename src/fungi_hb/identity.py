"""What identifies a set of patch features and a memory bank: one home, written by both jobs and
checked by every loader. Two artifacts with equal identities are interchangeable; any difference is
named field by field when an artifact is refused."""

import hashlib
from dataclasses import dataclass
from typing import Any

from fungi_hb.jsonable import to_jsonable


@dataclass(frozen=True)
class FungiIdentity:
    """The settings that make FUNGI features differ from the raw ones (METHOD section 6)."""

    gradients_layer: str  # Linear layer whose gradients are taken
    latent_dim: int  # L, width of the random head
    num_negatives: int  # negatives per token actually used (after the cap at the support k)
    negative_batch_percent: float  # q
    simclr_temperature: float  # tau of the loss
    negatives_layout: str  # "published" (scrambled) or "true"
    projection_sha1: str  # of the +1/-1 matrix R
    support_memory_id: str | None  # the support bank's id; None for a bank of the published code
    support_k: int  # neighbours the support index returns (the published layout depends on it)


@dataclass(frozen=True)
class FeatureIdentity:
    """Everything that determines the patch features of an image."""

    kind: str  # "embeddings" (raw backbone features) or "fungi"
    model: str  # backbone name
    weights: str  # where its weights came from ("random (seed N)", a file, a hub URL)
    input_size: int  # S
    patch_size: int  # p
    image_std: tuple[float, float, float]  # normalisation std (the published typo by default)
    seed: int  # seeds the head, the projection, subsets and augmentations
    source: str = "tokens"  # raw features: "tokens" (final normalised tokens) or "keys" (last attention keys)
    fungi: FungiIdentity | None = None  # set for kind == "fungi"

    @classmethod
    def from_json(cls, data: dict) -> "FeatureIdentity":
        fungi = data.get("fungi")
        return cls(
            **{k: v for k, v in data.items() if k not in ("fungi", "image_std")},
            image_std=tuple(data["image_std"]),
            fungi=FungiIdentity(**fungi) if fungi is not None else None,
        )


@dataclass(frozen=True)
class MemoryIdentity:
    """Everything that determines a memory bank: its features and which patches of which images."""

    features: FeatureIdentity
    dataset: str  # the classes the labels are over ("voc", "ade20k-150", ...)
    memory_size: int | None  # M, or None for every patch
    augmentation_epochs: int  # A
    train_ids_sha1: str  # of the training ids, in order
    augmentation: str  # the transform's version (``data.transforms.AUGMENTATION``)
    stage: str  # whose augmentation draws: "support" (the support bank) or "eval" (the evaluation memory)

    @classmethod
    def from_json(cls, data: dict) -> "MemoryIdentity":
        return cls(**dict(data, features=FeatureIdentity.from_json(data["features"])))


def identity_json(identity: Any) -> dict:
    return to_jsonable(identity)


def ids_sha1(ids: list[str]) -> str:
    return hashlib.sha1("\n".join(ids).encode()).hexdigest()


# The job setting behind an identity field (by the field's last name), so that a refusal can name what to
# change: the scripts show the flag, the Python API its keyword (cli.fields.render).
SETTING_OF = {
    "model": "backbone.model",
    "weights": "backbone.weights",
    "input_size": "backbone.input_size",
    "patch_size": "backbone.patch_size",
    "image_std": "transform.std",
    "seed": "seed",
    "source": "embeddings_source",
    "kind": "features",
    "gradients_layer": "fungi.gradients_layer",
    "latent_dim": "fungi.latent_dim",
    "num_negatives": "fungi.num_negative_neighbors",
    "negative_batch_percent": "fungi.negative_batch_percent",
    "simclr_temperature": "fungi.simclr_temperature",
    "negatives_layout": "fungi.negatives_layout",
    "memory_size": "memory.memory_size",
    "augmentation_epochs": "memory.augmentation_epochs",
}


def differences(found: Any, expected: Any) -> list[str]:
    """``["field (`setting`): <found> there, <expected> now", ...]`` over the flattened JSON of two
    identities; the setting is named where one decides the field."""
    a, b = _flatten(identity_json(found)), _flatten(identity_json(expected))
    return [
        f"{key}{_setting(key)}: {a.get(key)!r} there, {b.get(key)!r} now"
        for key in sorted(set(a) | set(b))
        if a.get(key) != b.get(key)
    ]


def _setting(key: str) -> str:
    setting = SETTING_OF.get(key.rsplit(".", 1)[-1])
    return f" (`{setting}`)" if setting is not None else ""


def _flatten(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
