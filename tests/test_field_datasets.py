"""The field's other datasets (Cityscapes, COCO-Stuff) in their official layouts, any dataset read from a
.tar or .tar.gz archive, and their bad inputs: one line each, before the long part."""

import json
import tarfile

import numpy as np
import pytest
from PIL import Image

from conftest import bank_args, eval_args
from fungi_hb.cli import create_memory_bank, eval_gradients
from fungi_hb.data.checks import check_samples
from fungi_hb.data.config import DataConfig
from fungi_hb.data.datasets.base import ClassOptions
from fungi_hb.data.datasets.cityscapes import CLASSES as CITYSCAPES_CLASSES
from fungi_hb.data.datasets.cityscapes import TRAIN_IDS
from fungi_hb.data.datasets.cocostuff import STUFF_GROUPS, THING_GROUPS
from fungi_hb.data.datasets.registry import open_dataset
from fungi_hb.data.samples import train_samples, val_samples
from fungi_hb.data.synthetic import make_synthetic_dataset
from fungi_hb.errors import UserError

SMALL = dict(num_train=4, num_val=2, size=(48, 96))


def test_cityscapes_is_found_with_nested_city_folders_and_19_named_classes(tmp_path):
    root = make_synthetic_dataset(tmp_path / "cs", layout="cityscapes", **SMALL)
    dataset = open_dataset(root)
    assert dataset.targets.name == "cityscapes-19" and dataset.targets.class_names == CITYSCAPES_CLASSES
    train = train_samples(dataset, DataConfig(root), 0)
    assert [s.id for s in train] == [
        "aachen/aachen_000000_000019", "aachen/aachen_000002_000019",
        "bochum/bochum_000001_000019", "bochum/bochum_000003_000019",
    ]  # fmt: skip
    assert str(train[0].mask).endswith("gtFine/train/aachen/aachen_000000_000019_gtFine_labelIds.png")
    assert train[0].file_stem == "aachen__aachen_000000_000019"
    table = dataset.targets.lookup()
    assert all(table[label] == train_id for label, train_id in TRAIN_IDS.items())
    assert {table[v] for v in range(34) if v not in TRAIN_IDS} == {255} and table[34] == -1 and table[255] == -1
    check_samples(train, dataset.targets, "training", workers=1)


def test_cityscapes_masks_of_train_ids_are_named_as_the_likely_mix_up(tmp_path):
    root = make_synthetic_dataset(tmp_path / "cs", layout="cityscapes", **SMALL)
    dataset = open_dataset(root)
    samples = val_samples(dataset, DataConfig(root))
    path = str(samples[0].mask)
    labels = np.asarray(Image.open(path))
    train_ids = np.vectorize(lambda v: TRAIN_IDS.get(int(v), 255))(labels).astype(np.uint8)
    Image.fromarray(train_ids).save(path)
    with pytest.raises(UserError, match="are trainIds: the masks read here must be the \\*_gtFine_labelIds.png"):
        check_samples(samples, dataset.targets, "validation", workers=1)


@pytest.mark.parametrize(
    "classes, count, first, last",
    [
        ("default", 27, THING_GROUPS[0], STUFF_GROUPS[-1]),
        ("things", 12, "accessory", "vehicle"),
        ("stuff", 15, "building", "window"),
        ("fine", 171, "person", "wood"),
    ],
)
def test_cocostuff_is_scored_over_27_supercategories_or_as_asked(tmp_path, classes, count, first, last):
    root = make_synthetic_dataset(tmp_path / "coco", layout="cocostuff", **SMALL)
    spec = open_dataset(root, options=ClassOptions(classes=classes)).targets
    assert spec.num_classes == count and spec.class_names[0] == first and spec.class_names[-1] == last
    table = spec.lookup()
    person, grass, unused = 0, 123, 11  # values are category id - 1: person 1, grass 124, id 12 unused
    if classes == "things":
        assert table[person] == THING_GROUPS.index("person") and table[grass] == 255  # stuff is not scored
    if classes == "stuff":
        assert table[person] == 255 and table[grass] == STUFF_GROUPS.index("plant")
    assert table[unused] == -1 and table[200] == -1 and table[255] == 255


def test_cocostuff_values_outside_the_release_are_refused(tmp_path):
    root = make_synthetic_dataset(tmp_path / "coco", layout="cocostuff", **SMALL)
    dataset = open_dataset(root)
    samples = train_samples(dataset, DataConfig(root), 0)
    mask = np.asarray(Image.open(str(samples[1].mask))).copy()
    mask[:2, :2] = 200
    Image.fromarray(mask).save(str(samples[1].mask))
    with pytest.raises(UserError, match=r"mask values \[200\] are not allowed"):
        check_samples(samples, dataset.targets, "training", workers=1)
    with pytest.raises(UserError, match="`data.classes` parts is not a way cocostuff is scored"):
        open_dataset(root, options=ClassOptions(classes="parts"))


def make_tar(folder, archive, top: str | None = None) -> None:
    mode = "w:gz" if str(archive).endswith(".gz") else "w"
    with tarfile.open(archive, mode) as tar:
        tar.add(folder, arcname=top or ".")


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz"])
def test_a_dataset_is_read_from_its_archive_in_place(tmp_path, monkeypatch, suffix):
    monkeypatch.setenv("FUNGI_HB_CACHE", str(tmp_path / "cache"))
    root = make_synthetic_dataset(tmp_path / "voc", num_train=4, num_val=2, size=(48, 64))
    archive = tmp_path / f"voc{suffix}"
    make_tar(root, archive, top="VOCSegmentation")  # archives usually hold the dataset's folder
    folder, packed = open_dataset(root), open_dataset(archive)
    assert packed.layout.kind == folder.layout.kind and packed.targets == folder.targets
    in_folder, in_archive = train_samples(folder, DataConfig(root), 0), train_samples(packed, DataConfig(archive), 0)
    assert [s.id for s in in_folder] == [s.id for s in in_archive]
    assert str(in_archive[0].image) == f"{archive}:VOCSegmentation/images/2007_000000.jpg"
    assert in_archive[0].image.open().read() == (root / "images" / "2007_000000.jpg").read_bytes()
    check_samples(in_archive, packed.targets, "training", workers=2)  # workers read members themselves
    if suffix == ".tar.gz":  # decompressed once into the cache, reused
        assert len(list((tmp_path / "cache" / "archives").glob("*.tar"))) == 1


def test_archives_that_are_cut_short_or_hold_two_datasets_are_refused(tmp_path):
    root = make_synthetic_dataset(tmp_path / "voc", num_train=4, num_val=2, size=(48, 64))
    archive = tmp_path / "voc.tar"
    make_tar(root, archive)
    data = archive.read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(UserError, match="truncated|cannot be read"):
        open_dataset(tmp_path / "cut.tar")
    with tarfile.open(tmp_path / "two.tar", "w") as tar:
        tar.add(root, arcname="first")
        tar.add(root, arcname="second")
    with pytest.raises(UserError, match="holds 2 voc datasets \\(first, second\\)"):
        open_dataset(tmp_path / "two.tar")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UserError, match="is a file but not a .tar or .tar.gz archive"):
        open_dataset(tmp_path / "notes.txt")


def test_a_folder_with_images_but_no_masks_says_so(tmp_path):
    root = make_synthetic_dataset(tmp_path / "cs", layout="cityscapes", **SMALL)
    import shutil

    shutil.rmtree(root / "gtFine" / "val")
    (root / "gtFine" / "val").mkdir()
    with pytest.raises(UserError, match="None of the 2 images has one: is .*gtFine/val the right folder"):
        val_samples(open_dataset(root), DataConfig(root))


@pytest.mark.slow
@pytest.mark.parametrize(
    "layout, name, classes",
    [("cityscapes", "cityscapes-19", CITYSCAPES_CLASSES), ("cocostuff", "cocostuff-27", THING_GROUPS + STUFF_GROUPS)],
)
def test_both_scripts_score_the_field_datasets_with_their_named_classes(tmp_path, layout, name, classes):
    data = make_synthetic_dataset(tmp_path / "data", num_train=8, num_val=3, layout=layout, size=(48, 96))
    assert create_memory_bank.main(bank_args(data, tmp_path, "--index-backend", "exact")) == 0
    out = tmp_path / "r.json"
    args = eval_args(data, tmp_path, "--output", str(out), "--index-backend", "exact", "--save-predictions",
                     str(tmp_path / "pictures"), "--num-predictions", "2")  # fmt: skip
    assert eval_gradients.main(args) == 0
    results = json.loads(out.read_text())
    assert results["dataset"] == name and results["class_names"] == list(classes)
    assert set(results["per_class_iou"]) == set(classes) and 0 <= results["miou"] <= 1
    assert len(list((tmp_path / "pictures").glob("*.png"))) == 2


@pytest.mark.slow
def test_an_archive_gives_the_same_miou_as_its_folder(tmp_path):
    data = make_synthetic_dataset(tmp_path / "cs", num_train=6, num_val=3, layout="cityscapes", size=(48, 96))
    make_tar(data, tmp_path / "cs.tar")
    scores = []
    for source, out in ((data, tmp_path / "folder"), (tmp_path / "cs.tar", tmp_path / "archive")):
        flags = ["--index-backend", "exact", "--num-workers", "2"]  # the loaders' workers read the members
        assert create_memory_bank.main(bank_args(source, out, *flags)) == 0
        assert eval_gradients.main([*eval_args(source, out, "--output", str(out / "r.json")), *flags]) == 0
        scores.append(json.loads((out / "r.json").read_text()))
    assert scores[0]["miou"] == scores[1]["miou"] and scores[0]["tp"] == scores[1]["tp"]
    assert scores[1]["memory_identity"]["train_ids_sha1"] == scores[0]["memory_identity"]["train_ids_sha1"]
