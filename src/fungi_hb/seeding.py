"""Every random draw of a run comes from a generator keyed by what it is for, so results depend on the
seed alone: not on batch size, worker count, process count or the order work is done in.

Keys: a *sample seed* per (run seed, stage, epoch, image index), where the stage is "support" (the
support bank), "eval" (the evaluation memory) or "val" (validation images); from it one stream per
purpose ("augment", "patches", "negatives"). The support bank and the evaluation memory thus draw
independent augmentations, each reproducible.
"""

import hashlib

import torch

STAGES = ("support", "eval", "val")


def derive_seed(*key: int | str) -> int:
    """A 63-bit seed determined by ``key`` alone (the same in every process, platform and run)."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def sample_seed(seed: int, stage: str, epoch: int, index: int) -> int:
    """The seed of one image's draws in one stage and augmentation epoch."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}")
    return derive_seed("sample", seed, stage, epoch, index)


def generator_for(sample: int, purpose: str) -> torch.Generator:
    """The generator of one purpose ("augment", "patches", "negatives") of one sample."""
    return torch.Generator().manual_seed(derive_seed(sample, purpose))


def uniform_draws(samples: torch.Tensor | list[int], purpose: str, count: int) -> torch.Tensor:
    """[B, count] U(0, 1) draws, row i from sample ``samples[i]``'s stream for ``purpose``."""
    seeds = samples.tolist() if torch.is_tensor(samples) else list(samples)
    return torch.stack([torch.rand(count, generator=generator_for(int(s), purpose)) for s in seeds])
