"""The data transforms against the published code's outputs for recorded random draws (goldens), and the
properties of the draws: from the sample's own generator, independent across stages."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from PIL import Image

from conftest import golden
from fungi_hb.data.transforms import (
    TrainDraws,
    TransformConfig,
    mask_to_ids,
    sample_train_draws,
    train_transform,
    val_transform,
)
from fungi_hb.seeding import derive_seed, generator_for, sample_seed, uniform_draws

G = golden("transforms.npz")
IMAGE, MASK, SIZE = Image.fromarray(G["input_image"]), Image.fromarray(G["input_mask"]), int(G["input_size"])


def recorded_draws(k: int) -> TrainDraws:
    return TrainDraws(
        tuple(bool(v) for v in G[f"train{k}_jitter_applied"]),
        tuple(float(v) for v in G[f"train{k}_jitter_factors"]),
        tuple(int(v) for v in G[f"train{k}_crop"]),
    )


@pytest.mark.parametrize("k", range(int(G["num_train_cases"])))
def test_train_transform_reproduces_the_published_outputs(k):
    image, mask = train_transform(IMAGE, MASK, recorded_draws(k), SIZE, TransformConfig())
    np.testing.assert_allclose(image.numpy(), G[f"train{k}_image"], atol=1e-5, rtol=0)
    np.testing.assert_array_equal(mask[0].long().numpy(), G[f"train{k}_mask"])


def test_val_transform_reproduces_the_published_outputs():
    image, mask = val_transform(IMAGE, MASK, SIZE, TransformConfig())
    np.testing.assert_allclose(image.numpy(), G["val_image"], atol=1e-5, rtol=0)
    np.testing.assert_array_equal(mask[0].long().numpy(), G["val_mask"])


def test_masks_use_torch_legacy_nearest_not_pil_nearest():
    """Source index floor(dst * in / out): on this mask PIL's centre-rounding nearest picks other pixels."""
    _, ours = val_transform(IMAGE, MASK, SIZE, TransformConfig())
    rows = (np.arange(SIZE) * MASK.height / SIZE).astype(int)
    cols = (np.arange(SIZE) * MASK.width / SIZE).astype(int)
    np.testing.assert_array_equal(ours[0].numpy(), G["input_mask"][rows][:, cols])
    pil = np.array(MASK.resize((SIZE, SIZE), Image.NEAREST))
    assert (pil != ours[0].numpy()).any()


def test_jitter_is_applied_to_the_whole_image_before_the_crop():
    """Contrast uses the mean of the whole image: jittering the crop instead gives another result."""
    draws = TrainDraws((False, True, False, False), (1.0, 1.09, 1.0, 0.0), (0, 0, 40, 50))
    config = TransformConfig()
    image, _ = train_transform(IMAGE, MASK, draws, SIZE, config)
    crop_first = TF.adjust_contrast(IMAGE.crop((0, 0, 50, 40)), 1.09)
    other = TF.resized_crop(
        TF.normalize(TF.to_tensor(crop_first), config.mean, config.std), 0, 0, 40, 50, [SIZE, SIZE], antialias=True
    )
    assert (image - other).abs().max() > 1e-3


def test_id_over_255_is_exact_for_every_class_id():
    ids = torch.arange(256, dtype=torch.uint8).reshape(1, 16, 16)
    assert torch.equal(mask_to_ids(ids.float() / 255), ids)


def test_draws_come_from_the_generator_alone_and_follow_the_published_ranges():
    config = TransformConfig()
    a = sample_train_draws(375, 500, config, generator_for(7, "augment"))
    assert a == sample_train_draws(375, 500, config, generator_for(7, "augment"))
    draws = [sample_train_draws(375, 500, config, generator_for(s, "augment")) for s in range(400)]
    applied = np.array([d.jitter_applied for d in draws])
    assert 0.4 < applied.mean() < 0.6
    for d in draws:
        for j, (on, factor) in enumerate(zip(d.jitter_applied, d.jitter_factors)):
            low, high, neutral = (-0.1, 0.1, 0.0) if j == 3 else (0.9, 1.1, 1.0)
            assert (low <= factor <= high) if on else factor == neutral
        top, left, h, w = d.crop
        assert 0 <= top and top + h <= 375 and 0 <= left and left + w <= 500


def test_stages_epochs_and_images_draw_independent_streams():
    seeds = {
        sample_seed(42, stage, epoch, i) for stage in ("support", "eval", "val") for epoch in (0, 1) for i in range(50)
    }
    assert len(seeds) == 3 * 2 * 50
    assert sample_seed(42, "support", 0, 3) == sample_seed(42, "support", 0, 3)
    assert derive_seed(1, "x") != derive_seed(1, "y")
    draws = uniform_draws(torch.tensor([5, 6, 5]), "negatives", 10)
    assert torch.equal(draws[0], draws[2]) and not torch.equal(draws[0], draws[1])
    assert torch.equal(draws[1], torch.rand(10, generator=generator_for(6, "negatives")))
    with pytest.raises(ValueError):
        sample_seed(42, "train", 0, 0)


def test_normalised_values_follow_the_published_std():
    image, _ = val_transform(IMAGE, MASK, SIZE, TransformConfig())
    resized = TF.to_tensor(IMAGE.resize((SIZE, SIZE), Image.BILINEAR))
    expected = (resized - torch.tensor([0.485, 0.456, 0.406])[:, None, None]) / torch.tensor([0.229, 0.224, 0.255])[
        :, None, None
    ]
    torch.testing.assert_close(image, expected)
    assert F.mse_loss(image, expected) == 0
