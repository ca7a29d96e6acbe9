import pytest
import torch
from PIL import Image
from torchvision.transforms import RandomResizedCrop

from fungi_hb.data.layout import detect_layout, subset_ids
from fungi_hb.data.samples import DataConfig, train_samples, val_samples
from fungi_hb.data.segmentation import AugmentedSegmentation, ResizedSegmentation
from fungi_hb.data.synthetic import make_synthetic_voc
from fungi_hb.data.transforms import TransformConfig, sample_crop
from fungi_hb.errors import UserError


@pytest.mark.parametrize("layout", ["seed", "vocdevkit"])
def test_both_layouts_are_detected(tmp_path, layout):
    root = make_synthetic_voc(tmp_path, num_train=4, num_val=2, layout=layout)
    assert detect_layout(root).name == layout
    if layout == "vocdevkit":
        assert detect_layout(tmp_path).name == "vocdevkit"  # the folder above VOCdevkit works too
    config = DataConfig(root)
    assert len(train_samples(config, 0)) == 4 and len(val_samples(config)) == 2
    assert all("SegmentationClassAug" in str(s.mask) for s in train_samples(config, 0))
    assert all("SegmentationClass/" in str(s.mask) for s in val_samples(config))


def test_subset_depends_on_the_seed_alone():
    ids = [f"id{i}" for i in range(100)]
    assert subset_ids(ids, 10, 42) == subset_ids(list(reversed(ids)), 10, 42)
    assert subset_ids(ids, 10, 42) != subset_ids(ids, 10, 43)
    assert len(subset_ids(ids, 10, 42)) == 10


@pytest.mark.parametrize("seed", range(30))
def test_crop_parameters_follow_torchvision(seed):
    img = Image.new("RGB", (500, 375))
    torch.manual_seed(seed)
    expected = RandomResizedCrop.get_params(img, [0.5, 2.0], [3 / 4, 4 / 3])
    got = sample_crop(375, 500, (0.5, 2.0), (3 / 4, 4 / 3), torch.Generator().manual_seed(seed))
    assert tuple(got) == tuple(expected)


def test_augmentation_depends_on_seed_stage_epoch_and_index_only(synthetic_voc):
    samples = train_samples(DataConfig(synthetic_voc), 0)
    cfg = TransformConfig()
    a = AugmentedSegmentation(samples, 64, cfg, seed=1, stage="support", epochs=2)
    assert len(a) == 2 * len(samples)
    image, mask, index, seed = a[3]
    assert image.shape == (3, 64, 64) and mask.shape == (1, 64, 64) and mask.dtype == torch.uint8 and index == 3
    assert torch.equal(image, a[3].images) and a[3].seeds == seed
    assert torch.equal(image, AugmentedSegmentation(samples, 64, cfg, seed=1, stage="support")[3].images)
    second_epoch = a[len(samples) + 3]
    assert second_epoch.indices == 3 and not torch.equal(image, second_epoch.images)
    assert not torch.equal(image, AugmentedSegmentation(samples, 64, cfg, seed=1, stage="eval")[3].images)
    assert not torch.equal(image, AugmentedSegmentation(samples, 64, cfg, seed=2, stage="support")[3].images)
    assert set(mask.unique().tolist()) <= set(range(21)) | {255}
    v_image, v_mask, _, _ = ResizedSegmentation(samples, 64, cfg, seed=1)[0]
    assert v_image.shape == (3, 64, 64) and 255 in v_mask.unique().tolist()


def test_missing_folder_split_image_and_unreadable_image(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        train_samples(DataConfig(tmp_path / "nowhere"), 0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="neither the seed layout"):
        train_samples(DataConfig(tmp_path / "empty"), 0)
    root = make_synthetic_voc(tmp_path / "voc", num_train=3, num_val=2)
    (root / "sets" / "val.txt").unlink()
    with pytest.raises(UserError, match="val split file"):
        val_samples(DataConfig(root))
    (root / "sets" / "val.txt").write_text("")
    with pytest.raises(UserError, match="lists no images"):
        val_samples(DataConfig(root))
    (root / "images" / "2007_000001.jpg").unlink()
    with pytest.raises(UserError, match="lack an image or a mask"):
        train_samples(DataConfig(root), 0)
    (root / "images" / "2007_000001.jpg").write_bytes(b"garbage")
    with pytest.raises(UserError, match="Cannot read"):
        train_samples(DataConfig(root), 0)
