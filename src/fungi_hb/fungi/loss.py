"""The patch-level SimCLR (InfoNCE) loss of the published code (METHOD section 6 step 3)."""

import torch
import torch.nn.functional as F


def patch_info_nce(
    positives: torch.Tensor,
    negatives: torch.Tensor,
    negative_mask: torch.Tensor | None = None,
    temperature: float = 0.07,
) -> torch.Tensor:
    """Mean over images of the mean over tokens a of

        l_a = -(1 / (T - 1)) * sum_{b != a} s(z_a, z_b) / tau
              + log( sum_m exp(s(z_a, n_m)) + sum_{b != a} exp(s(z_a, z_b)) )

    with s the cosine similarity. tau divides only the first term, as in the published code.
    Computed in float32 with a masked log-sum-exp, so the value is finite in every precision
    (quirk 2) and the gradient equals the published one.

    Args:
        positives: [B, T, L] latents of each image's tokens (the positives of one another).
        negatives: [B, M, L] latents of each image's negatives.
        negative_mask: [B, M] bool, False for negatives that were dropped; None keeps all.
        temperature: tau.
    Returns:
        scalar loss.
    """
    z = F.normalize(positives.float(), dim=-1)  # (B, T, L)
    n = F.normalize(negatives.float(), dim=-1)  # (B, M, L)
    num_tokens = z.shape[1]
    self_mask = torch.eye(num_tokens, dtype=torch.bool, device=z.device)  # (T, T)
    pos_sim = z @ z.transpose(1, 2)  # (B, T, T)
    neg_sim = z @ n.transpose(1, 2)  # (B, T, M)
    attraction = -pos_sim.masked_fill(self_mask, 0.0).sum(-1) / (num_tokens - 1) / temperature  # (B, T)
    if negative_mask is not None:
        neg_sim = neg_sim.masked_fill(~negative_mask[:, None, :], float("-inf"))  # (B, T, M)
    logits = torch.cat([neg_sim, pos_sim.masked_fill(self_mask, float("-inf"))], dim=-1)  # (B, T, M+T)
    repulsion = torch.logsumexp(logits, dim=-1)  # (B, T)
    return (attraction + repulsion).mean()
