"""Which patches of an image enter a bounded memory (METHOD section 4): rare classes first."""

import torch


def patches_per_image(memory_size: int, num_images: int, epochs: int, patches: int) -> int:
    """s = M // (N * A), checked to lie in 1..P; ``ValueError`` otherwise."""
    s = memory_size // (num_images * epochs)
    if s < 1:
        raise ValueError(
            f"a memory of {memory_size} rows leaves 0 patches per image for {num_images} images x "
            f"{epochs} augmentation epochs; it needs at least {num_images * epochs} rows"
        )
    if s > patches:
        raise ValueError(
            f"a memory of {memory_size} rows asks for {s} patches per image but an image has only "
            f"{patches}; it can hold at most {patches * num_images * epochs} rows"
        )
    return s


def rarity_scores(labels: torch.Tensor) -> torch.Tensor:
    """Score of each patch: sum, over the classes it contains, of how many patches of its image
    contain that class.

    Args:
        labels: [B, P, C] patch label distributions.
    Returns:
        [B, P] float32 scores (low = made of classes that are rare in the image).
    """
    present = (labels > 0).float()  # (B, P, C)
    freq = present.sum(dim=1, keepdim=True)  # (B, 1, C): patches per class
    return (present * freq).sum(dim=2)  # (B, P)


def select_patches(labels: torch.Tensor, num_keep: int, noise: torch.Tensor) -> torch.Tensor:
    """Indices of the ``num_keep`` patches per image with the lowest score x U(0, 1).

    Args:
        labels: [B, P, C] patch label distributions.
        num_keep: s, 1 <= s <= P.
        noise: [B, P] the U(0, 1) draws.
    Returns:
        [B, s] int64 patch indices.
    """
    scores = rarity_scores(labels)  # (B, P)
    return torch.topk(scores * noise.to(scores), k=num_keep, dim=1, largest=False).indices  # (B, s)
