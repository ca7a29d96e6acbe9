"""How the patch features of a run are computed, built and checked before the long part: the backbone,
and for FUNGI the head, the gradients layer, the projection and the support index; and what identifies
the features and the memories made of them."""

import logging
from dataclasses import dataclass, replace

import torch

from fungi_hb.data.samples import Sample
from fungi_hb.data.transforms import AUGMENTATION
from fungi_hb.errors import UserError
from fungi_hb.features.backbones import BackboneInfo, build_backbone
from fungi_hb.features.embeddings import EmbeddingExtractor, keys_unavailable
from fungi_hb.features.support import Support, load_support
from fungi_hb.fungi import FungiConfig, FungiExtractor, FungiModel
from fungi_hb.fungi.projection import make_projection, projection_sha1
from fungi_hb.fungi.token_gradients import token_gradient_width
from fungi_hb.identity import FeatureIdentity, FungiIdentity, MemoryIdentity, ids_sha1
from fungi_hb.jobs import preflight
from fungi_hb.jobs.configs import EvalJob
from fungi_hb.memory.types import FeatureFn, MemoryConfig
from fungi_hb.storage.projection_file import load_projection, save_projection

logger = logging.getLogger(__name__)

SUPPORT_STAGE, EVAL_STAGE = "support", "eval"  # the two memories draw independent augmentations


@dataclass
class FeatureSetup:
    """The extractor of this run and what identifies its features."""

    extract: FeatureFn  # (images [B, 3, S, S], sample seeds [B]) -> features [B, P, D]
    info: BackboneInfo
    dim: int  # D: E for embeddings, 2E for FUNGI
    identity: FeatureIdentity
    support_bank: str | None = None  # FUNGI: who made the support bank ("fungi-hb <memory id>" or the published code)


def raw_identity(
    info: BackboneInfo, image_std: tuple[float, float, float], seed: int, source: str = "tokens"
) -> FeatureIdentity:
    """The identity of raw backbone features (the support bank's, and the embeddings baseline's)."""
    return FeatureIdentity(
        kind="embeddings",
        model=info.model,
        weights=info.weights_source,
        input_size=info.input_size,
        patch_size=info.patch_size,
        image_std=tuple(image_std),
        seed=seed,
        source=source,
    )


def memory_identity(
    features: FeatureIdentity, dataset: str, memory: MemoryConfig, samples: list[Sample], stage: str
) -> MemoryIdentity:
    """The identity of a memory of ``features`` over ``samples``, augmented with the draws of ``stage``."""
    return MemoryIdentity(
        features=features,
        dataset=dataset,
        memory_size=memory.memory_size,
        augmentation_epochs=memory.augmentation_epochs,
        train_ids_sha1=ids_sha1([sample.id for sample in samples]),
        augmentation=AUGMENTATION,
        stage=stage,
    )


def fungi_identity(raw: FeatureIdentity, config: FungiConfig, projection: torch.Tensor, support: Support):
    return replace(
        raw,
        kind="fungi",
        fungi=FungiIdentity(
            gradients_layer=config.gradients_layer,
            latent_dim=config.latent_dim,
            num_negatives=config.num_negative_neighbors,
            negative_batch_percent=config.negative_batch_percent,
            simclr_temperature=config.simclr_temperature,
            negatives_layout=config.negatives_layout.value,
            projection_sha1=projection_sha1(projection),
            support_memory_id=support.memory_id,
            support_k=support.k,
        ),
    )


def prepare_features(
    job: EvalJob, device: torch.device, dtype: torch.dtype | None, train_ids: list[str] | None = None
) -> FeatureSetup:
    """Backbone, and for FUNGI the head, layer, projection and support index, all checked up front
    (``train_ids``: this run's training images, which the support bank should have been built from)."""
    backbone, info = build_backbone(job.backbone, job.seed)
    backbone.to(device)
    raw = raw_identity(info, job.transform.std, job.seed)  # the support bank's features: final tokens
    if job.features == "embeddings":
        reason = keys_unavailable(backbone) if job.embeddings_source == "keys" else None
        if reason is not None:
            raise UserError(
                f"`embeddings_source` keys cannot be used with {info.model}: {reason}. Use `embeddings_source` tokens."
            )
        extract = EmbeddingExtractor(backbone, info.num_prefix_tokens, device, dtype, job.embeddings_source)
        return FeatureSetup(extract, info, info.embed_dim, replace(raw, source=job.embeddings_source))

    model = FungiModel(backbone, info.embed_dim, job.fungi.latent_dim, job.seed).to(device)
    layer_path, layer = preflight.gradients_layer(model, job.fungi.gradients_layer)
    width = token_gradient_width(layer)
    if job.projection_matrix is not None:
        projection = load_projection(job.projection_matrix, info.embed_dim, width)
    else:
        projection = make_projection(info.embed_dim, width, job.seed)
    if job.save_projection_matrix is not None:
        save_projection(projection, job.save_projection_matrix)
    support = load_support(
        job.support_features,
        job.support_index,
        raw,
        info.embed_dim,
        device,
        ids_sha1(train_ids) if train_ids is not None else None,
    )
    negatives = preflight.capped_negatives(job.fungi.num_negative_neighbors, support.k)
    config = replace(job.fungi, gradients_layer=layer_path, num_negative_neighbors=negatives)
    extract = FungiExtractor(
        model, projection, support.neighbors, config, info.num_prefix_tokens, info.grid, device, dtype
    )
    logger.info(
        "FUNGI: layer %s (%d x %d), %d negatives/token (support k=%d), q=%.2f, %s layout",
        config.gradients_layer,
        layer.out_features,
        layer.in_features + 1,
        negatives,
        support.k,
        config.negative_batch_percent,
        config.negatives_layout.value,
    )
    made_by = f"fungi-hb, memory {support.memory_id}" if support.memory_id else "the published code (no metadata)"
    return FeatureSetup(extract, info, 2 * info.embed_dim, fungi_identity(raw, config, projection, support), made_by)
