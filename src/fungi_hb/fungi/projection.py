"""Random +1/-1 projection of per-token gradients, done in chunks so that the full set of
per-token gradients of a batch is never held at once."""

import hashlib
import math

import torch


def make_projection(out_dim: int, in_dim: int, seed: int) -> torch.Tensor:
    """[out_dim, in_dim] int8 matrix of independent +1/-1 entries (probability 1/2), from the seed.

    Made on the CPU, so a seed gives the same matrix on every device.
    """
    generator = torch.Generator().manual_seed(seed)
    bits = torch.randint(0, 2, (out_dim, in_dim), generator=generator, dtype=torch.int8)
    return bits * 2 - 1  # (E, out*(in+1))


def check_projection(matrix: torch.Tensor, out_dim: int, in_dim: int) -> torch.Tensor:
    """``matrix`` as int8 if it is an [out_dim, in_dim] matrix of +1/-1; ``ValueError`` otherwise."""
    if tuple(matrix.shape) != (out_dim, in_dim):
        raise ValueError(f"the projection has shape {tuple(matrix.shape)} but ({out_dim}, {in_dim}) is needed")
    if not bool(((matrix == 1) | (matrix == -1)).all()):
        raise ValueError("the projection has entries other than +1/-1")
    return matrix.to(torch.int8)


def projection_sha1(matrix: torch.Tensor) -> str:
    """Fingerprint of a projection (recorded in the features' identity)."""
    return hashlib.sha1(matrix.to(torch.int8).contiguous().numpy().tobytes()).hexdigest()


def chunk_size_for(width: int, dtype: torch.dtype, budget_bytes: int = 256 * 2**20) -> int:
    """Tokens per chunk so that one chunk of flattened gradients fits in ``budget_bytes``."""
    bytes_per = torch.empty((), dtype=dtype).element_size()
    return max(1, budget_bytes // (width * bytes_per))


def project_token_gradients(
    layer_inputs: torch.Tensor,
    output_grads: torch.Tensor,
    projection: torch.Tensor,
    chunk_tokens: int | None = None,
) -> torch.Tensor:
    """g_t = R vec([d_t x_t^T | d_t]) / sqrt(E) for every token, in chunks of tokens.

    Args:
        layer_inputs: [N, in] x_t.
        output_grads: [N, out] d_t.
        projection: [E, out*(in+1)] R, already in the compute dtype and on the device.
        chunk_tokens: tokens per chunk (None: about 256 MiB of gradients per chunk).
    Returns:
        [N, E] projected gradients, in the dtype of ``projection``.
    """
    num, out_dim = output_grads.shape
    embed = projection.shape[0]
    dtype = projection.dtype
    ones = torch.ones(num, 1, dtype=dtype, device=layer_inputs.device)
    x_aug = torch.cat([layer_inputs.to(dtype), ones], dim=1)  # (N, in+1)
    d = output_grads.to(dtype)  # (N, out)
    if chunk_tokens is None:
        chunk_tokens = chunk_size_for(out_dim * x_aug.shape[1], dtype)
    result = torch.empty(num, embed, dtype=dtype, device=layer_inputs.device)  # (N, E)
    for start in range(0, num, chunk_tokens):
        stop = min(start + chunk_tokens, num)
        grads = (d[start:stop, :, None] * x_aug[start:stop, None, :]).flatten(1)  # (n, out*(in+1))
        result[start:stop] = grads @ projection.T  # (n, E)
    return result / math.sqrt(embed)
