"""Datasets found by their layout, samples, and the up-front check of every file."""

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import RandomResizedCrop

from fungi_hb.data.checks import check_samples
from fungi_hb.data.config import DataConfig
from fungi_hb.data.datasets.ade20k import ADE20K_CLASSES
from fungi_hb.data.datasets.base import ClassOptions
from fungi_hb.data.datasets.registry import open_dataset
from fungi_hb.data.loading import Augmentation, AugmentedImages, ResizedImages
from fungi_hb.data.samples import subset_ids, train_samples, val_samples
from fungi_hb.data.synthetic import make_synthetic_dataset
from fungi_hb.data.targets import MaskReader
from fungi_hb.data.transforms import TransformConfig, sample_crop
from fungi_hb.errors import UserError


@pytest.mark.parametrize("layout", ["seed", "vocdevkit"])
def test_both_voc_layouts_are_detected(tmp_path, layout):
    root = make_synthetic_dataset(tmp_path, num_train=4, num_val=2, layout=layout)
    dataset = open_dataset(root)
    assert dataset.classes.name == "voc" and dataset.classes.num_classes == 21
    if layout == "vocdevkit":
        assert open_dataset(tmp_path).classes.name == "voc"  # the folder above VOCdevkit works too
    config = DataConfig(root)
    train, val = train_samples(dataset, config, 0), val_samples(dataset, config)
    assert len(train) == 4 and len(val) == 2
    assert all("SegmentationClassAug" in str(s.mask) for s in train)
    assert all("SegmentationClass/" in str(s.mask) for s in val)


def test_ade20k_is_detected_with_150_or_151_classes(tmp_path):
    root = make_synthetic_dataset(tmp_path, num_train=3, num_val=2, layout="ade20k")
    for given in (root, tmp_path):  # ADEChallengeData2016 itself or the folder above it
        dataset = open_dataset(given)
        assert dataset.classes.name == "ade20k-150" and dataset.classes.num_classes == 150
    table = dataset.classes.lookup()
    assert table[0] == 255 and table[1] == 0 and table[150] == 149 and table[151] == -1
    other = open_dataset(root, options=ClassOptions(keep_other=True)).classes
    assert other.name == "ade20k-151" and other.class_names[0] == "other" and other.lookup()[150] == 150
    assert len(ADE20K_CLASSES) == 150 and len(set(ADE20K_CLASSES)) == 150
    config = DataConfig(root)
    assert [s.id for s in train_samples(dataset, config, 0)] == [f"ADE_train_{i:08d}" for i in range(3)]
    assert len(val_samples(dataset, config)) == 2


def test_generic_layout_takes_its_classes_from_classes_txt(tmp_path):
    root = make_synthetic_dataset(tmp_path, num_train=3, num_val=2, layout="generic", num_classes=7)
    dataset = open_dataset(root)
    assert dataset.classes.num_classes == 7 and dataset.classes.class_names[6] == "class6"
    assert dataset.classes.name.startswith("generic-7-") and dataset.classes.ignore_as_class is None
    assert dataset.classes.lookup()[255] == 255 and dataset.classes.lookup()[7] == -1
    (root / "classes.txt").write_text("a\na\n")
    with pytest.raises(UserError, match="twice"):
        open_dataset(root)


def test_dataset_can_be_forced_and_unknown_layouts_are_refused(tmp_path):
    root = make_synthetic_dataset(tmp_path / "voc", num_train=2, num_val=1)
    with pytest.raises(UserError, match="does not hold ade20k"):
        open_dataset(root, "ade20k")
    with pytest.raises(UserError, match="Unknown `data.dataset`"):
        open_dataset(root, "kitti")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="none of the known layouts"):
        open_dataset(tmp_path / "empty")
    with pytest.raises(UserError, match="does not exist"):
        open_dataset(tmp_path / "nowhere")


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
    dataset = open_dataset(synthetic_voc)
    samples, reader = train_samples(dataset, DataConfig(synthetic_voc), 0), MaskReader(dataset.classes)
    cfg = TransformConfig()

    def augmented(seed: int, stage: str, epochs: int = 1) -> AugmentedImages:
        return AugmentedImages(samples, Augmentation(64, cfg, seed, stage, epochs), reader)

    a = augmented(1, "support", 2)
    assert len(a) == 2 * len(samples)
    image, mask, index, seed = a[3]
    assert image.shape == (3, 64, 64) and mask.shape == (1, 64, 64) and mask.dtype == torch.uint8 and index == 3
    assert torch.equal(image, a[3].images) and a[3].seeds == seed
    assert torch.equal(image, augmented(1, "support")[3].images)
    second_epoch = a[len(samples) + 3]
    assert second_epoch.indices == 3 and not torch.equal(image, second_epoch.images)
    assert not torch.equal(image, augmented(1, "eval")[3].images)
    assert not torch.equal(image, augmented(2, "support")[3].images)
    assert set(mask.unique().tolist()) <= set(range(21)) | {255}
    v_image, v_mask, _, _ = ResizedImages(samples, 64, cfg, 1, reader)[0]
    assert v_image.shape == (3, 64, 64) and 255 in v_mask.unique().tolist()


def test_ade20k_masks_are_mapped_to_classes(tmp_path):
    root = make_synthetic_dataset(tmp_path, num_train=2, num_val=1, layout="ade20k", size=(48, 64))
    dataset = open_dataset(root)
    samples = val_samples(dataset, DataConfig(root))
    mapped = ResizedImages(samples, 48, TransformConfig(), 0, MaskReader(dataset.classes))[0].targets[0]
    keep_other = MaskReader(open_dataset(root, options=ClassOptions(keep_other=True)).classes)
    raw = ResizedImages(samples, 48, TransformConfig(), 0, keep_other)[0].targets[0]  # values as they are
    assert torch.equal(mapped[raw == 0], torch.full_like(mapped[raw == 0], 255))  # "other" is ignored
    assert torch.equal(mapped[(raw > 0) & (raw <= 150)], raw[(raw > 0) & (raw <= 150)] - 1)


def test_missing_split_image_and_ids_outside_the_dataset(tmp_path):
    root = make_synthetic_dataset(tmp_path / "voc", num_train=3, num_val=2)
    dataset = open_dataset(root)
    (root / "sets" / "val.txt").unlink()
    with pytest.raises(UserError, match="val split file"):
        val_samples(dataset, DataConfig(root))
    (root / "sets" / "val.txt").write_text("")
    with pytest.raises(UserError, match="lists no images"):
        val_samples(dataset, DataConfig(root))
    (root / "sets" / "val.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(UserError, match="not UTF-8"):
        val_samples(dataset, DataConfig(root))
    (root / "sets" / "val.txt").write_text("../../etc/passwd\n")
    with pytest.raises(UserError, match="outside the dataset folders"):
        val_samples(dataset, DataConfig(root))
    (root / "images" / "2007_000001.jpg").unlink()
    with pytest.raises(UserError, match="lack an image or a mask"):
        train_samples(dataset, DataConfig(root), 0)


def test_duplicate_ids_are_warned_about(tmp_path, caplog):
    root = make_synthetic_dataset(tmp_path / "voc", num_train=3, num_val=2)
    (root / "sets" / "val.txt").write_text("2008_000000\n2008_000000\n2008_000001\n")
    assert len(val_samples(open_dataset(root), DataConfig(root))) == 3
    assert "more than once" in caplog.text


@pytest.fixture()
def checked(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = make_synthetic_dataset(tmp_path / "voc", num_train=6, num_val=2, size=(48, 64))
    dataset = open_dataset(root)
    return root, dataset, train_samples(dataset, DataConfig(root), 0)


def damage(root, kind: str) -> None:
    image, mask = root / "images" / "2007_000002.jpg", root / "SegmentationClassAug" / "2007_000002.png"
    if kind == "truncated image":
        image.write_bytes(image.read_bytes()[:600])
    elif kind == "rgb mask":
        Image.open(mask).convert("RGB").save(mask)
    elif kind == "16-bit mask":
        Image.fromarray(np.array(Image.open(mask)).astype(np.uint16) * 300).save(mask)
    elif kind == "other size":
        Image.open(mask).resize((32, 32)).save(mask)
    elif kind == "bad values":
        array = np.array(Image.open(mask))
        array[:3, :3] = 37
        Image.fromarray(array, mode="L").save(mask)


@pytest.mark.parametrize(
    "kind, message",
    [
        ("truncated image", "cannot be decoded"),
        ("rgb mask", "RGB image, not single-channel"),
        ("16-bit mask", "not single-channel 8-bit"),
        ("other size", "the mask is 32x32 but its image is 64x48"),
        ("bad values", r"mask values \[37\] are not allowed"),
    ],
)
def test_damaged_files_are_refused_up_front(checked, kind, message):
    root, dataset, samples = checked
    check_samples(samples, dataset.classes, "training", workers=1)  # all good (and remembered)
    damage(root, kind)
    with pytest.raises(UserError, match=message) as error:
        check_samples(samples, dataset.classes, "training", workers=2)
    assert "1 of 6 training samples" in str(error.value) and "0..20, 255" in str(error.value)


def test_a_byte_order_mark_and_crlf_line_ends_are_read_as_plain_ids(tmp_path):
    from fungi_hb.data.files import FolderTree
    from fungi_hb.data.samples import read_ids

    (tmp_path / "list.txt").write_bytes(b"\xef\xbb\xbf2007_000000\r\n\r\n2007_000001\r\n")
    assert read_ids(FolderTree(tmp_path), "list.txt", "train") == ["2007_000000", "2007_000001"]
