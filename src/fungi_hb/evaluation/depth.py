"""Monocular depth from retrieved neighbours, and its scores (HummingBird's second task): pure functions.

A memory row carries (d, s): the mean depth of its patch's measured pixels and their share of the patch.
A query patch's depth is the softmax-weighted mean of its neighbours' depths, the weights renormalised over
the neighbours that carry a depth (s > 0). Scores are sums over the scored pixels, so that batches, pieces
and processes add up exactly; ``depth_metrics`` turns them into the standard figures (RMSE in metres,
AbsRel, log10 error, and the shares delta1..3 of pixels with max(pred/gt, gt/pred) < 1.25, 1.25^2, 1.25^3).
"""

import torch
import torch.nn.functional as F

DELTAS = (1.25, 1.25**2, 1.25**3)
SUMS = ("pixels", "squared_error", "relative_error", "log10_error", "delta1", "delta2", "delta3")


def patch_depths(depth: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Depth maps [B, 1, H, W] in metres (0: not measured) -> [B, H/p, W/p, 2]: each patch's mean measured
    depth (0 where nothing was measured) and the share of its pixels that were measured."""
    measured = (depth > 0).to(torch.float64)  # (B, 1, H, W)
    share = F.avg_pool2d(measured, patch_size)  # (B, 1, G, G)
    total = F.avg_pool2d(depth.to(torch.float64) * measured, patch_size)  # (B, 1, G, G): sum / p^2
    mean = torch.where(share > 0, total / share.clamp(min=1e-12), torch.zeros_like(total))
    return torch.cat([mean, share], dim=1).permute(0, 2, 3, 1).float()  # (B, G, G, 2)


def transfer_depth(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, temperature: float) -> torch.Tensor:
    """Softmax over cosine(query, key) / temperature, renormalised over the neighbours with a depth.

    Args:
        queries: [N, D]; keys: [N, k, D]; values: [N, k, 2] (depth, measured share).
    Returns:
        [N, 2]: the predicted depth, and the weight the neighbours with a depth had (0: none had one).
    """
    q = F.normalize(queries.float(), dim=-1)  # (N, D)
    kk = F.normalize(keys.float(), dim=-1)  # (N, k, D)
    weights = torch.softmax(torch.einsum("nd,nkd->nk", q, kk) / temperature, dim=-1)  # (N, k)
    has = (values[..., 1] > 0).float()  # (N, k)
    kept = weights * has  # (N, k)
    mass = kept.sum(-1, keepdim=True)  # (N, 1)
    depth = (kept * values[..., 0]).sum(-1, keepdim=True) / mass.clamp(min=1e-12)  # (N, 1)
    return torch.cat([depth, mass], dim=-1)  # (N, 2)


def upsample_depth(patch_predictions: torch.Tensor, size: int) -> torch.Tensor:
    """[B, G, G, 2] -> [B, S, S] depth, bilinear (align_corners=False) from the patch grid."""
    grid = patch_predictions[..., :1].permute(0, 3, 1, 2)  # (B, 1, G, G)
    return F.interpolate(grid, size=(size, size), mode="bilinear", align_corners=False)[:, 0]  # (B, S, S)


def scored_pixels(truth: torch.Tensor, crop: tuple[float, float, float, float] | None, bounds: tuple) -> torch.Tensor:
    """[B, S, S] bool: pixels with a measured depth within ``bounds`` (min, max or None), inside ``crop``
    (top, bottom, left, right as shares of the height and width; None: everywhere)."""
    low, high = bounds
    valid = truth > low
    if high is not None:
        valid &= truth <= high
    if crop is not None:
        height, width = truth.shape[-2:]
        top, bottom, left, right = crop
        inside = torch.zeros_like(valid)
        inside[..., int(top * height) : int(bottom * height), int(left * width) : int(right * width)] = True
        valid &= inside
    return valid


def depth_sums(truth: torch.Tensor, predicted: torch.Tensor, valid: torch.Tensor, bounds: tuple) -> dict:
    """The sums behind the depth metrics over the ``valid`` pixels (predictions clamped to ``bounds``).

    Args:
        truth, predicted: [B, S, S] metres; valid: [B, S, S] bool; bounds: (min, max or None) metres.
    Returns:
        {name: float64 scalar tensor} for each of ``SUMS``.
    """
    gt = truth[valid].double()  # (n,)
    pred = predicted[valid].double().clamp(min=bounds[0], max=bounds[1])  # (n,)
    ratio = torch.maximum(pred / gt, gt / pred)  # (n,)
    sums = {
        "pixels": torch.tensor(float(gt.numel()), dtype=torch.float64),
        "squared_error": ((pred - gt) ** 2).sum(),
        "relative_error": ((pred - gt).abs() / gt).sum(),
        "log10_error": (torch.log10(pred) - torch.log10(gt)).abs().sum(),
    }
    for i, threshold in enumerate(DELTAS, start=1):
        sums[f"delta{i}"] = (ratio < threshold).double().sum()
    return {name: value.cpu() for name, value in sums.items()}


def depth_metrics(sums: dict) -> dict:
    """RMSE (metres), AbsRel, log10 and delta1..3 from summed ``depth_sums`` (None where no pixel was scored)."""
    pixels = float(sums["pixels"])
    if pixels == 0:
        return {name: None for name in ("rmse", "abs_rel", "log10", "delta1", "delta2", "delta3")} | {"pixels": 0}
    return {
        "rmse": float(sums["squared_error"] / pixels) ** 0.5,
        "abs_rel": float(sums["relative_error"]) / pixels,
        "log10": float(sums["log10_error"]) / pixels,
        **{f"delta{i}": float(sums[f"delta{i}"]) / pixels for i in (1, 2, 3)},
        "pixels": int(pixels),
    }
