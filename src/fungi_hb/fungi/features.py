"""The public entry point: dense FUNGI features of a batch of images."""

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ..errors import UserError
from .loss import patch_info_nce
from .model import FungiModel
from .negatives import NeighborLayout, pool_negatives, select_negatives
from .projection import project_token_gradients
from .token_gradients import record_layer, resolve_linear

# Given the raw tokens [B, T, E] of a batch, return the K retrieved support vectors of each token,
# [B, T, K, E], in retrieval order. The scripts use the ScaNN support index; tests use a stub.
NeighborFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class FungiOutput:
    features: torch.Tensor  # [B, P, 2E] unit-norm FUNGI features of the patches (CLS dropped)
    tokens: torch.Tensor  # [B, T, E] raw backbone tokens (CLS first)
    loss: float  # the SimCLR loss of the batch


def fungi_features(
    model: FungiModel,
    images: torch.Tensor,
    layer_path: str,
    projection: torch.Tensor,
    neighbors: NeighborFn,
    num_negatives: int,
    layout: NeighborLayout = NeighborLayout.PUBLISHED,
    negative_keep_probability: float = 1.0,
    simclr_temperature: float = 0.07,
    num_prefix_tokens: int = 1,
    autocast_dtype: torch.dtype | None = None,
    generator: torch.Generator | None = None,
    chunk_tokens: int | None = None,
) -> FungiOutput:
    """Dense FUNGI features (METHOD section 6).

    Args:
        model: backbone + head; every parameter frozen.
        images: [B, 3, S, S] normalised images.
        layer_path: dotted path of the Linear layer whose gradients are taken.
        projection: [E, out*(in+1)] +1/-1 matrix (any dtype; cast to the compute dtype here).
        neighbors: maps the raw tokens [B, T, E] to their retrieved support vectors [B, T, K, E].
        num_negatives: n_neg, negatives kept per token (<= K).
        layout: published (scrambled, the paper's numbers) or true neighbours.
        negative_keep_probability: q, probability of keeping each pooled negative.
        simclr_temperature: tau of the loss.
        num_prefix_tokens: leading non-patch tokens (CLS, registers) dropped from the output.
        autocast_dtype: bfloat16 for mixed precision on CUDA, None for float32.
        generator: source of the negative subsampling draws.
        chunk_tokens: tokens per projection chunk (None: automatic).
    Returns:
        FungiOutput with features [B, P, 2E].
    """
    layer = resolve_linear(model, layer_path)
    device = images.device
    enabled = autocast_dtype is not None
    with record_layer(layer) as record:  # the hook sees the positives' forward pass only
        with torch.autocast(device_type=device.type, dtype=autocast_dtype or torch.float32, enabled=enabled):
            tokens = model.tokens(images)  # (B, T, E)
            latents = model.fc(tokens)  # (B, T, L)
    if record.outputs is None:
        raise UserError(f"--gradients-layer {layer_path} is not used in the forward pass. Choose another layer.")
    with torch.no_grad():
        support = neighbors(tokens.detach().float())  # (B, T, K, E)
        chosen = select_negatives(support, num_negatives, layout)  # (B, T, n_neg, E)
        pooled, keep = pool_negatives(chosen, negative_keep_probability, generator)  # (B, M, E), (B, M)
        negative_latents = model.fc(pooled.to(device=device, dtype=model.fc.weight.dtype))  # (B, M, L)
    loss = patch_info_nce(latents, negative_latents, keep, simclr_temperature)
    (output_grads,) = torch.autograd.grad(loss, record.outputs)  # (B, T, out)
    layer_inputs = record.inputs  # (B, T, in)

    batch, num_tokens, _ = output_grads.shape
    compute_dtype = autocast_dtype or torch.float32
    with torch.no_grad():
        projected = project_token_gradients(
            layer_inputs.reshape(batch * num_tokens, -1),
            output_grads.reshape(batch * num_tokens, -1),
            projection.to(device=device, dtype=compute_dtype),
            chunk_tokens,
        ).reshape(batch, num_tokens, -1)  # (B, T, E)
        patch_tokens = tokens.detach()[:, num_prefix_tokens:].float()  # (B, P, E)
        patch_grads = projected[:, num_prefix_tokens:].float()  # (B, P, E)
        features = torch.cat([F.normalize(patch_tokens, dim=-1), F.normalize(patch_grads, dim=-1)], dim=-1)
        features = F.normalize(features, dim=-1)  # (B, P, 2E)
    return FungiOutput(features=features, tokens=tokens.detach().float(), loss=float(loss.detach()))
