"""Negatives of the patch SimCLR loss, from the neighbours each token retrieved in the support memory
(METHOD section 6 step 2 and quirk 1)."""

import torch

from fungi_hb.fungi.config import NeighborLayout


def select_negatives(neighbors: torch.Tensor, num_negatives: int, layout: NeighborLayout) -> torch.Tensor:
    """The first ``num_negatives`` negatives of each token.

    Args:
        neighbors: [B, T, K, E] the K retrieved support vectors of each token, in retrieval order.
        num_negatives: n_neg <= K.
        layout: PUBLISHED takes u_k[e] = w[e*K + k], w the concatenation of the K vectors (the
            published reshape [B, T, E, K] + transpose); TRUE takes the vectors as retrieved.
    Returns:
        [B, T, n_neg, E].
    """
    batch, tokens, k, embed = neighbors.shape
    if layout == NeighborLayout.PUBLISHED:
        neighbors = neighbors.reshape(batch, tokens, embed, k).transpose(2, 3)  # (B, T, K, E) scrambled
    return neighbors[:, :, :num_negatives]  # (B, T, n_neg, E)


def pool_negatives(
    negatives: torch.Tensor, keep_probability: float, draws: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pool each image's negatives and keep each one independently with probability q.

    Args:
        negatives: [B, T, n_neg, E].
        keep_probability: q; q >= 1 keeps all.
        draws: [B, T*n_neg] U(0, 1) draws, a negative is kept when its draw is below q; None draws
            them from the global generator.
    Returns:
        pooled [B, T*n_neg, E] and keep mask [B, T*n_neg] bool.
    """
    batch = negatives.shape[0]
    pooled = negatives.reshape(batch, -1, negatives.shape[-1])  # (B, T*n_neg, E)
    if keep_probability >= 1.0:
        return pooled, torch.ones(pooled.shape[:2], dtype=torch.bool, device=pooled.device)
    if draws is None:
        draws = torch.rand(pooled.shape[:2])
    if tuple(draws.shape) != tuple(pooled.shape[:2]):
        raise ValueError(f"negative draws of shape {tuple(draws.shape)} for {tuple(pooled.shape[:2])} negatives")
    return pooled, (draws < keep_probability).to(pooled.device)  # (B, T*n_neg)
