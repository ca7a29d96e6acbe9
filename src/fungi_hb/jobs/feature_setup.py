"""How the patch features of a run are computed, built and checked before the long part: for FUNGI the
head, the gradients layer (which must run as a module call), the projection and the support index; and
what identifies the features and the memories made of them."""

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from fungi_hb.data.samples import Sample
from fungi_hb.data.transforms import AUGMENTATION
from fungi_hb.errors import UserError
from fungi_hb.features.embeddings import EmbeddingExtractor, keys_unavailable
from fungi_hb.features.models.base import Backbone, BackboneInfo, forward_features
from fungi_hb.features.support import Support, load_support
from fungi_hb.fungi import FungiConfig, FungiExtractor, FungiModel
from fungi_hb.fungi.projection import check_projection, make_projection, projection_sha1
from fungi_hb.fungi.token_gradients import linears_called, token_gradient_width
from fungi_hb.identity import FeatureIdentity, FungiIdentity, MemoryIdentity, ids_sha1
from fungi_hb.jobs import preflight
from fungi_hb.jobs.configs import EvalJob
from fungi_hb.memory.types import FeatureFn, MemoryConfig, RowRule
from fungi_hb.precision import Placement
from fungi_hb.storage.projection_file import FIX as PROJECTION_FIX
from fungi_hb.storage.projection_file import load_projection_matrix, save_projection
from fungi_hb.tasks.base import Task

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


def row_rule(task: Task, patch_size: int) -> RowRule:
    """What the task keeps of each patch in a memory, at patch size ``patch_size``."""
    return RowRule(task.patch_values, task.select, task.value_width, task.value_dtype, patch_size)


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


def prepare_features(job: EvalJob, backbone: Backbone, placement: Placement, train_ids: list[str]) -> FeatureSetup:
    """For FUNGI the head, layer, projection and support index, all checked up front (``train_ids``: this
    run's training images, which the support bank should have been built from); else the raw features."""
    info = backbone.info
    raw = raw_identity(info, job.transform.std, job.seed)  # the support bank's features: final tokens
    if job.features == "embeddings":
        reason = _keys_unavailable(backbone) if job.embeddings_source == "keys" else None
        if reason is not None:
            raise UserError(
                f"`embeddings_source` keys cannot be used with {info.model}: {reason}. Use `embeddings_source` tokens."
            )
        extract = EmbeddingExtractor(backbone, placement, job.embeddings_source)
        return FeatureSetup(extract, info, info.embed_dim, replace(raw, source=job.embeddings_source))

    model, layer_path, layer = fungi_model(job, backbone, placement.device)
    projection = _projection(job, info.embed_dim, token_gradient_width(layer))
    support = load_support(job.support_features, job.support_index, raw, info.embed_dim, placement.device,
                           ids_sha1(train_ids))  # fmt: skip
    negatives = preflight.capped_negatives(job.fungi.num_negative_neighbors, support.k)
    config = replace(job.fungi, gradients_layer=layer_path, num_negative_neighbors=negatives)
    extract = FungiExtractor(model, projection, support.neighbors, config, info.num_tokens, placement)
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


def fungi_model(job: EvalJob, backbone: Backbone, device: torch.device) -> tuple[FungiModel, str, torch.nn.Linear]:
    """(the backbone with FUNGI's head, the gradients layer's concrete path, the layer), the layer checked to
    run as a module call in the forward pass (callers may check this before anything long)."""
    info = backbone.info
    model = FungiModel(backbone.module, info.embed_dim, job.fungi.latent_dim, job.seed, backbone.tokens,
                       info.num_prefix_tokens).to(device)  # fmt: skip
    layer_path, layer = preflight.gradients_layer(model, job.fungi.gradients_layer)
    _check_layer_runs(model, layer_path, info, device)
    return model, layer_path, layer


def _keys_unavailable(backbone: Backbone) -> str | None:
    if backbone.tokens is not forward_features:
        return "keys are read from the last block of timm ViTs, and this is your own model"
    return keys_unavailable(backbone.module)


def load_projection(path: Path, out_dim: int, in_dim: int) -> torch.Tensor:
    """[out_dim, in_dim] int8 +1/-1 matrix R from the file ``path`` (ours or the published format)."""
    matrix = load_projection_matrix(path, (out_dim, in_dim))
    try:
        return check_projection(matrix, out_dim, in_dim)
    except ValueError as exc:
        raise UserError(f"`projection_matrix` {path}: {exc}. {PROJECTION_FIX}") from exc


def _projection(job: EvalJob, out_dim: int, in_dim: int) -> torch.Tensor:
    """R: loaded from `projection_matrix` (and checked) or made from the seed; saved where asked."""
    if job.projection_matrix is not None:
        projection = load_projection(job.projection_matrix, out_dim, in_dim)
    else:
        projection = make_projection(out_dim, in_dim, job.seed)
    if job.save_projection_matrix is not None:
        save_projection(projection, job.save_projection_matrix)
    return projection


def _check_layer_runs(model: FungiModel, path: str, info: BackboneInfo, device: torch.device) -> None:
    """The per-token gradient needs the layer's output as a module call: refuse, before the long part, a
    layer the forward pass computes some other way (``torch.nn.MultiheadAttention``'s ``out_proj`` is used
    inside a fused function), naming the Linear layers that do run."""
    images = torch.zeros(1, 3, info.input_size, info.input_size, device=device)
    called = linears_called(model, lambda: model.tokens(images))
    if path in called:
        return
    shown = [name for name in called if name.startswith("backbone.")]
    raise UserError(
        f"`fungi.gradients_layer` {path} is never called as a module in the model's forward pass (e.g. "
        "torch.nn.MultiheadAttention computes its out_proj inside a fused function), so its per-token gradients "
        f"cannot be taken. Linear layers that do run: {', '.join(shown[-6:]) or 'none'}."
    )
