"""Dense FUNGI features of a batch of images: a pure function of the model, the images, the projection,
the retrieval function and the settings."""

from typing import Callable

import torch
import torch.nn.functional as F

from fungi_hb.fungi.config import FungiConfig
from fungi_hb.fungi.loss import patch_info_nce
from fungi_hb.fungi.model import FungiModel
from fungi_hb.fungi.negatives import pool_negatives, select_negatives
from fungi_hb.fungi.projection import project_token_gradients
from fungi_hb.fungi.token_gradients import record_layer

# Given the raw tokens [B, T, E] of a batch, return the K retrieved support vectors of each token,
# [B, T, K, E], in retrieval order. The scripts use the support index; tests use a stub.
NeighborFn = Callable[[torch.Tensor], torch.Tensor]


def layer_token_count(outputs: torch.Tensor, batch: int, out_features: int, num_patches: int) -> int:
    """T', the rows the gradients layer computes per image (prefix tokens first, then one per patch). A model
    whose tokens keep a CLS token inside but return only the patches (torchvision's ViT with a patch-token
    function) has T' = P + 1 there; a layer that does not compute one row per token is refused."""
    rows = outputs.numel() // out_features
    layer_tokens = rows // batch
    if layer_tokens * batch * out_features != outputs.numel() or layer_tokens < num_patches:
        raise ValueError(
            f"the gradients layer computes {rows} rows of {out_features} for {batch} images of {num_patches} patches, "
            "not one row per token"
        )
    return layer_tokens


def fungi_features(
    model: FungiModel,
    images: torch.Tensor,
    projection: torch.Tensor,
    neighbors: NeighborFn,
    config: FungiConfig,
    autocast_dtype: torch.dtype | None = None,
    negative_draws: torch.Tensor | None = None,
) -> torch.Tensor:
    """Dense FUNGI features (METHOD section 6).

    Args:
        model: backbone + head; every parameter frozen. Its ``num_prefix_tokens`` leading tokens (CLS,
            registers) take part in the loss and are dropped from the output.
        images: [B, 3, S, S] normalised images.
        projection: [E, out*(in+1)] +1/-1 matrix, ideally already in the compute dtype on the device.
        neighbors: maps the raw tokens [B, T, E] to their retrieved support vectors [B, T, K, E].
        config: the FUNGI settings; the gradients of ``config.gradients_layer`` are taken, and
            ``num_negative_neighbors`` is used as given (at most K).
        autocast_dtype: bfloat16 for mixed precision on CUDA, None for float32.
        negative_draws: [B, T*n_neg] U(0, 1) draws deciding which pooled negatives are kept (those
            below q); None draws them from the global generator.
    Returns:
        [B, P, 2E] unit-norm FUNGI features of the patches.
    Raises:
        ValueError: when the layer takes no part in the model's forward pass as a module call.
    """
    layer, num_prefix_tokens = model.layer(config.gradients_layer), model.num_prefix_tokens
    device = images.device
    compute_dtype = autocast_dtype or torch.float32
    with record_layer(layer) as record:  # the hook sees the positives' forward pass only
        with torch.autocast(device_type=device.type, dtype=compute_dtype, enabled=autocast_dtype is not None):
            tokens = model.tokens(images)  # (B, T, E)
            latents = model.fc(tokens)  # (B, T, L)
    if record.outputs is None:
        raise ValueError("the gradients layer is not called as a module in the forward pass")
    with torch.no_grad():
        support = neighbors(tokens.detach().float())  # (B, T, K, E)
        chosen = select_negatives(support, config.num_negative_neighbors, config.negatives_layout)  # (B, T, n, E)
        pooled, keep = pool_negatives(chosen, config.negative_batch_percent, negative_draws)  # (B, M, E), (B, M)
        negative_latents = model.fc(pooled.to(device=device, dtype=model.fc.weight.dtype))  # (B, M, L)
    loss = patch_info_nce(latents, negative_latents, keep, config.simclr_temperature)
    (output_grads,) = torch.autograd.grad(loss, record.outputs)  # (B, T', out)

    batch, num_patches = tokens.shape[0], tokens.shape[1] - num_prefix_tokens
    layer_tokens = layer_token_count(output_grads, batch, layer.out_features, num_patches)  # T'
    with torch.no_grad():
        projected = project_token_gradients(
            record.inputs.reshape(batch * layer_tokens, -1),  # (B*T', in)
            output_grads.reshape(batch * layer_tokens, -1),  # (B*T', out)
            projection.to(device=device, dtype=compute_dtype),
            config.projection_chunk,
        ).reshape(batch, layer_tokens, -1)  # (B, T', E)
        patch_tokens = tokens.detach()[:, num_prefix_tokens:].float()  # (B, P, E)
        patch_grads = projected[:, layer_tokens - num_patches :].float()  # (B, P, E): the layer's last P rows
        features = torch.cat([F.normalize(patch_tokens, dim=-1), F.normalize(patch_grads, dim=-1)], dim=-1)
        return F.normalize(features, dim=-1)  # (B, P, 2E)
