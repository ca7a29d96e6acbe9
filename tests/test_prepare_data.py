"""scripts/prepare_data.py and fungi_hb.data.prepare: each preparation on tiny archives written here in the
formats of the real downloads (tar / tgz / zip, MATLAB v5 and v7.3 files)."""

import argparse
import hashlib
import io
import logging
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType

import h5py
import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from conftest import ROOT
from fungi_hb.data.config import DataConfig
from fungi_hb.data.datasets.registry import open_dataset
from fungi_hb.data.prepare import cityscapes, cocostuff, nyuv2, preparations, voc
from fungi_hb.data.samples import train_samples
from fungi_hb.errors import UserError

VOC_TRAIN, VOC_VAL = ["2007_000032", "2007_000039"], ["2007_000033", "2007_000042"]
SBD_TRAIN, SBD_VAL = ["2007_000032", "2008_000002", "2008_000003"], ["2007_000033", "2008_000008"]
TRAINAUG = ["2007_000032", "2007_000039", "2008_000002", "2008_000003", "2008_000008"]
SBD_ONLY = ["2008_000002", "2008_000003", "2008_000008"]
UNUSED_IMAGE = "2009_000001"
MASK_SHAPE = (6, 8)  # [H, W]


def parse(module: ModuleType, *argv: object) -> argparse.Namespace:
    """The namespace that ``prepare_data.py <module> argv`` gives the module."""
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args([str(arg) for arg in argv])


def jpeg(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (*MASK_SHAPE, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def voc_mask(seed: int) -> bytes:
    """A VOC2012-style palette PNG: class ids 0..20 inside, 255 on the border."""
    ids = np.random.default_rng(seed).integers(0, 21, MASK_SHAPE, dtype=np.uint8)
    ids[0, :] = ids[-1, :] = 255
    image = Image.frombytes("P", (MASK_SHAPE[1], MASK_SHAPE[0]), ids.tobytes())
    image.putpalette(bytes(range(256)) * 3)
    return png(image)


def sbd_mask(image_id: str) -> np.ndarray:
    return np.random.default_rng(int(image_id[-6:])).integers(0, 21, MASK_SHAPE, dtype=np.uint8)  # [H, W]


def add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def lines(ids: list[str]) -> bytes:
    return "".join(f"{i}\n" for i in ids).encode()


def write_voc_tar(path: Path, with_lists: bool = True) -> Path:
    base = "VOCdevkit/VOC2012/"
    with tarfile.open(path, "w") as tar:
        if with_lists:
            add(tar, f"{base}ImageSets/Segmentation/train.txt", lines(VOC_TRAIN))
            add(tar, f"{base}ImageSets/Segmentation/val.txt", lines(VOC_VAL))
            add(tar, f"{base}ImageSets/Segmentation/trainval.txt", lines(VOC_TRAIN + VOC_VAL))
        for seed, image_id in enumerate(sorted({*TRAINAUG, *VOC_VAL, UNUSED_IMAGE})):
            add(tar, f"{base}JPEGImages/{image_id}.jpg", jpeg(seed))
        for seed, image_id in enumerate(VOC_TRAIN + VOC_VAL):
            add(tar, f"{base}SegmentationClass/{image_id}.png", voc_mask(seed))
        add(tar, f"{base}Annotations/{VOC_TRAIN[0]}.xml", b"<annotation/>")
    return path


def write_sbd_tgz(path: Path, skip: str | None = None) -> Path:
    """The class masks first and the lists last, as can happen in the real archive."""
    base = "benchmark_RELEASE/dataset/"
    with tarfile.open(path, "w:gz") as tar:
        for image_id in sorted({*SBD_TRAIN, *SBD_VAL} - {skip}):
            buffer = io.BytesIO()
            savemat(buffer, {"GTcls": {"Segmentation": sbd_mask(image_id), "CategoriesPresent": np.array([1])}})
            add(tar, f"{base}cls/{image_id}.mat", buffer.getvalue())
        add(tar, f"{base}train.txt", lines(SBD_TRAIN))
        add(tar, f"{base}val.txt", lines(SBD_VAL))
    return path


def write_aug_zip(path: Path, ids: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for image_id in ids:
            archive.writestr(f"SegmentationClassAug/{image_id}.png", png(Image.fromarray(sbd_mask(image_id))))
        archive.writestr(f"__MACOSX/SegmentationClassAug/._{ids[0]}.png", b"resource fork")
    return path


@pytest.fixture
def voc_inputs(tmp_path: Path) -> dict[str, Path]:
    return {"voc": write_voc_tar(tmp_path / voc.VOC_TAR), "sbd": write_sbd_tgz(tmp_path / voc.SBD_TGZ)}


def run_voc(inputs: dict[str, Path], out: Path, *extra: object) -> Path:
    return voc.prepare(parse(voc, "--voc", inputs["voc"], "--sbd", inputs["sbd"], "--out", out, *extra))


def voc_member(tar_path: Path, name: str) -> bytes:
    with tarfile.open(tar_path) as tar:
        return tar.extractfile(f"VOCdevkit/VOC2012/{name}").read()


def mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*")) if p.is_file()}


def test_every_preparation_is_a_subcommand_with_downloads():
    modules = preparations()
    assert {"voc", "nyuv2", "cityscapes", "cocostuff"} <= set(modules)
    for module in modules.values():
        assert module.__doc__.splitlines()[0] and "http" in module.WHERE_TO_GET
        assert callable(module.add_arguments) and callable(module.prepare)


def test_voc_with_sbd_builds_the_published_layout(voc_inputs, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        out = run_voc(voc_inputs, tmp_path / "out", "--skip-checksum")
    assert out == tmp_path / "out"
    assert (out / "sets" / "trainaug.txt").read_text().split() == TRAINAUG
    assert (out / "sets" / "val.txt").read_text().split() == VOC_VAL
    assert "10582" in caplog.text and "skip-checksum" in caplog.text
    assert sorted(p.stem for p in (out / "images").iterdir()) == sorted(TRAINAUG + VOC_VAL)
    for image_id in TRAINAUG + VOC_VAL:
        assert (out / "images" / f"{image_id}.jpg").read_bytes() == voc_member(
            voc_inputs["voc"], f"JPEGImages/{image_id}.jpg"
        )
    for image_id in VOC_TRAIN + VOC_VAL:  # VOC2012's masks as they are
        original = voc_member(voc_inputs["voc"], f"SegmentationClass/{image_id}.png")
        assert (out / "SegmentationClass" / f"{image_id}.png").read_bytes() == original
    assert sorted(p.stem for p in (out / "SegmentationClassAug").iterdir()) == TRAINAUG
    for image_id in VOC_TRAIN:  # trainaug ids with a VOC2012 mask keep it, 255 boundaries included
        kept = out / "SegmentationClassAug" / f"{image_id}.png"
        assert kept.read_bytes() == voc_member(voc_inputs["voc"], f"SegmentationClass/{image_id}.png")
        with Image.open(kept) as mask:
            assert mask.mode == "P" and 255 in np.array(mask)
    for image_id in SBD_ONLY:  # the others get SBD's mask as 8-bit class ids
        with Image.open(out / "SegmentationClassAug" / f"{image_id}.png") as mask:
            assert mask.mode == "L"
            np.testing.assert_array_equal(np.array(mask), sbd_mask(image_id))
    dataset = open_dataset(out)  # the published VOCSegmentation folder, as the scripts read it
    assert dataset.layout.kind == "Pascal VOC, the published VOCSegmentation folder"
    assert [s.id for s in train_samples(dataset, DataConfig(out), 0)] == TRAINAUG


def test_voc_with_the_aug_zip(tmp_path):
    voc_tar = write_voc_tar(tmp_path / voc.VOC_TAR)
    aug = write_aug_zip(tmp_path / voc.AUG_ZIP, sorted({*VOC_TRAIN, *VOC_VAL, *SBD_ONLY}))
    out = voc.prepare(parse(voc, "--voc", voc_tar, "--aug-zip", aug, "--out", tmp_path / "out", "--skip-checksum"))
    assert (out / "sets" / "trainaug.txt").read_text().split() == TRAINAUG
    with zipfile.ZipFile(aug) as archive:
        for image_id in SBD_ONLY:  # copied byte for byte
            expected = archive.read(f"SegmentationClassAug/{image_id}.png")
            assert (out / "SegmentationClassAug" / f"{image_id}.png").read_bytes() == expected
    for image_id in VOC_TRAIN:
        with Image.open(out / "SegmentationClassAug" / f"{image_id}.png") as mask:
            assert mask.mode == "P"


def test_voc_rerun_keeps_files_and_completes_a_partial_output(voc_inputs, tmp_path):
    out = run_voc(voc_inputs, tmp_path / "out", "--skip-checksum")
    before = mtimes(out)
    run_voc(voc_inputs, out, "--skip-checksum")
    assert mtimes(out) == before
    removed = ["images/2008_000002.jpg", f"SegmentationClassAug/{SBD_ONLY[1]}.png", "SegmentationClass/2007_000042.png",
               "sets/trainaug.txt"]  # fmt: skip
    contents = {name: (out / name).read_bytes() for name in removed}
    for name in removed:
        (out / name).unlink()
    run_voc(voc_inputs, out, "--skip-checksum")
    assert {name: (out / name).read_bytes() for name in removed} == contents
    after = mtimes(out)
    assert after.keys() == before.keys()
    assert {n: t for n, t in after.items() if n not in removed} == {n: t for n, t in before.items() if n not in removed}


def test_voc_killed_run_leaves_whole_files_and_the_rerun_finishes_it(voc_inputs, tmp_path, monkeypatch):
    clean = run_voc(voc_inputs, tmp_path / "clean", "--skip-checksum")
    calls, real = [], voc.sbd_mask

    def killed_at_the_second_mask(data: bytes, where: str) -> np.ndarray:
        calls.append(where)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(data, where)

    monkeypatch.setattr(voc, "sbd_mask", killed_at_the_second_mask)
    with pytest.raises(KeyboardInterrupt):
        run_voc(voc_inputs, tmp_path / "out", "--skip-checksum")
    out = tmp_path / "out"
    assert not (out / "sets").exists() and len(list((out / "SegmentationClassAug").iterdir())) == len(VOC_TRAIN) + 1
    assert not [p for p in out.rglob(".*")]  # no temporary sibling left behind
    monkeypatch.setattr(voc, "sbd_mask", real)
    run_voc(voc_inputs, out, "--skip-checksum")
    assert sorted(mtimes(out)) == sorted(mtimes(clean))
    assert all((out / name).read_bytes() == (clean / name).read_bytes() for name in mtimes(clean))


def test_voc_checksums(voc_inputs, tmp_path, monkeypatch):
    with pytest.raises(UserError) as error:
        run_voc(voc_inputs, tmp_path / "out")
    message = str(error.value)
    found = hashlib.md5(voc_inputs["voc"].read_bytes()).hexdigest()
    assert str(voc_inputs["voc"]) in message and voc.VOC_MD5 in message and found in message
    assert voc.VOC_TAR in message and "\n" not in message
    monkeypatch.setattr(voc, "VOC_MD5", found)
    with pytest.raises(UserError, match=voc.SBD_TGZ):
        run_voc(voc_inputs, tmp_path / "out")
    monkeypatch.setattr(voc, "SBD_MD5", hashlib.md5(voc_inputs["sbd"].read_bytes()).hexdigest())
    assert (run_voc(voc_inputs, tmp_path / "out") / "sets" / "val.txt").is_file()


def test_voc_bad_inputs(voc_inputs, tmp_path):
    with pytest.raises(UserError, match="no such file"):
        run_voc({**voc_inputs, "voc": tmp_path / "missing.tar"}, tmp_path / "out")
    with pytest.raises(UserError, match="is a file"):
        run_voc(voc_inputs, voc_inputs["sbd"], "--skip-checksum")
    no_lists = write_voc_tar(tmp_path / "other.tar", with_lists=False)
    with pytest.raises(UserError, match="holds no VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt"):
        run_voc({**voc_inputs, "voc": no_lists}, tmp_path / "out", "--skip-checksum")
    with pytest.raises(UserError, match="not a tar archive"):
        run_voc({**voc_inputs, "voc": write_aug_zip(tmp_path / "a.zip", VOC_TRAIN)}, tmp_path / "o", "--skip-checksum")
    short_sbd = write_sbd_tgz(tmp_path / "short.tgz", skip=SBD_ONLY[0])
    with pytest.raises(UserError, match=f"lacks .*cls/<id>.mat .*{SBD_ONLY[0]}"):
        run_voc({**voc_inputs, "sbd": short_sbd}, tmp_path / "out2", "--skip-checksum")
    assert not (tmp_path / "out2" / "sets").exists()  # the lists come last: no layout that looks complete
    aug = write_aug_zip(tmp_path / voc.AUG_ZIP, SBD_ONLY)
    with pytest.raises(UserError, match="lacks SegmentationClassAug/<id>.png for 4 VOC2012 ids"):
        voc.prepare(
            parse(voc, "--voc", voc_inputs["voc"], "--aug-zip", aug, "--out", tmp_path / "o3", "--skip-checksum")
        )


# ---- NYUv2 ---------------------------------------------------------------------------------------------------

NYU_COUNT, NYU_H, NYU_W = 5, 6, 8  # N images of [H, W]: not square, so a missing transpose shows


def nyu_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Images [N, H, W, 3] uint8 and depths [N, H, W] metres as they should come out."""
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (NYU_COUNT, NYU_H, NYU_W, 3), dtype=np.uint8)
    depths = rng.uniform(0.5, 9.5, (NYU_COUNT, NYU_H, NYU_W)).astype(np.float32)
    depths[:, 0, 0] = 0.0  # no measurement
    depths[:, 1, 2] = 70.0  # beyond 65.535 m: clipped
    return images, depths


def write_labeled(path: Path, with_depths: bool = True) -> Path:
    images, depths = nyu_arrays()
    with h5py.File(path, "w") as handle:  # as h5py sees MATLAB's column-major arrays
        handle["images"] = np.transpose(images, (0, 3, 2, 1))  # [N, 3, W, H]
        if with_depths:
            handle["depths"] = np.transpose(depths, (0, 2, 1))  # [N, W, H]
        handle["labels"] = np.zeros((NYU_COUNT, NYU_W, NYU_H), dtype=np.uint16)
    return path


def write_splits(path: Path, train: list[int], test: list[int]) -> Path:
    savemat(path, {"trainNdxs": np.array(train, dtype=np.float64)[:, None], "testNdxs": np.array(test)[:, None]})
    return path


@pytest.fixture
def nyu_inputs(tmp_path: Path) -> dict[str, Path]:
    return {
        "labeled": write_labeled(tmp_path / nyuv2.LABELED),
        "splits": write_splits(tmp_path / "s.mat", [1, 3, 4], [2, 5]),
    }


def run_nyu(inputs: dict[str, Path], out: Path) -> Path:
    return nyuv2.prepare(parse(nyuv2, "--labeled", inputs["labeled"], "--splits", inputs["splits"], "--out", out))


def test_nyuv2_layout_depth_in_millimetres_and_transposes(nyu_inputs, tmp_path):
    out = run_nyu(nyu_inputs, tmp_path / "out")
    assert (out / "train.txt").read_text().split() == ["0001", "0003", "0004"]
    assert (out / "val.txt").read_text().split() == ["0002", "0005"]
    marker = (out / nyuv2.MARKER).read_text()
    assert '"train": 3' in marker and '"val": 2' in marker and nyuv2.LABELED in marker and '"nyuv2"' in marker
    images, depths = nyu_arrays()
    for index in range(1, NYU_COUNT + 1):
        with Image.open(out / "images" / f"{index:04d}.png") as image:
            assert image.mode == "RGB" and image.size == (NYU_W, NYU_H)
            np.testing.assert_array_equal(np.array(image), images[index - 1])
        with Image.open(out / "depth" / f"{index:04d}.png") as depth:
            assert depth.mode in ("I;16", "I;16B", "I") and depth.size == (NYU_W, NYU_H)
            millimetres = np.array(depth)
        expected = np.clip(np.round(depths[index - 1].astype(np.float64) * 1000), 0, 65535).astype(np.uint16)
        np.testing.assert_array_equal(millimetres, expected)
        assert millimetres[0, 0] == 0 and millimetres[1, 2] == 65535
    dataset = open_dataset(out)  # what the scripts read: NYUv2, scored with its crop and cap
    assert dataset.kind.name == "nyuv2" and dataset.targets.max_depth == 10.0 and dataset.targets.crop is not None


def test_nyuv2_rerun_keeps_files_and_completes_a_partial_output(nyu_inputs, tmp_path):
    out = run_nyu(nyu_inputs, tmp_path / "out")
    before = mtimes(out)
    run_nyu(nyu_inputs, out)
    assert mtimes(out) == before
    removed = ["depth/0003.png", "images/0005.png", nyuv2.MARKER]
    contents = {name: (out / name).read_bytes() for name in removed}
    for name in removed:
        (out / name).unlink()
    run_nyu(nyu_inputs, out)
    assert {name: (out / name).read_bytes() for name in removed} == contents
    assert {n: t for n, t in mtimes(out).items() if n not in removed} == {
        n: t for n, t in before.items() if n not in removed
    }


def test_nyuv2_bad_inputs(nyu_inputs, tmp_path):
    with pytest.raises(UserError, match="no such file"):
        run_nyu({**nyu_inputs, "labeled": tmp_path / "nowhere.mat"}, tmp_path / "out")
    no_depths = write_labeled(tmp_path / "raw.mat", with_depths=False)
    with pytest.raises(UserError, match="no depths dataset: it is probably not the labeled release"):
        run_nyu({**nyu_inputs, "labeled": no_depths}, tmp_path / "out")
    with pytest.raises(UserError, match="not an HDF5 file"):
        run_nyu({**nyu_inputs, "labeled": nyu_inputs["splits"]}, tmp_path / "out")
    out_of_range = write_splits(tmp_path / "bad.mat", [1, 2], [0, NYU_COUNT + 1])
    with pytest.raises(UserError, match=f"testNdxs holds 2 indices outside 1..{NYU_COUNT}"):
        run_nyu({**nyu_inputs, "splits": out_of_range}, tmp_path / "out")
    assert not (tmp_path / "out" / "images").exists()  # refused before writing anything


# ---- Cityscapes and COCO-Stuff ------------------------------------------------------------------------------

CITY_FILES = {
    "train": ["aachen/aachen_000000_000019", "bochum/bochum_000000_000313"],
    "val": ["lindau/lindau_000001_000019"],
}


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def write_city_zips(folder: Path, val: bool = True) -> dict[str, Path]:
    masks, images = {"README": b"x", "license.txt": b"x"}, {"README": b"x"}
    for split, names in CITY_FILES.items():
        if split == "val" and not val:
            continue
        for seed, name in enumerate(names):
            for kind in ("labelIds", "color", "instanceIds"):
                masks[f"gtFine/{split}/{name}_gtFine_{kind}.png"] = png(Image.fromarray(sbd_mask(f"{seed:06d}")))
            masks[f"gtFine/{split}/{name}_gtFine_polygons.json"] = b"{}"
            images[f"leftImg8bit/{split}/{name}_leftImg8bit.png"] = jpeg(seed)
    images["leftImg8bit/test/berlin/berlin_000000_000019_leftImg8bit.png"] = jpeg(9)
    return {
        "gtfine": write_zip(folder / cityscapes.GTFINE, masks),
        "leftimg": write_zip(folder / cityscapes.LEFTIMG, images),
    }


def test_cityscapes_copies_what_the_reader_needs(tmp_path):
    zips = write_city_zips(tmp_path)
    out = cityscapes.prepare(
        parse(cityscapes, "--gtfine", zips["gtfine"], "--leftimg", zips["leftimg"], "--out", tmp_path / "out")
    )
    expected = sorted(
        [f"gtFine/{s}/{n}_gtFine_labelIds.png" for s, names in CITY_FILES.items() for n in names]
        + [f"leftImg8bit/{s}/{n}_leftImg8bit.png" for s, names in CITY_FILES.items() for n in names]
    )
    assert sorted(mtimes(out)) == expected
    with zipfile.ZipFile(zips["gtfine"]) as archive:
        assert all((out / name).read_bytes() == archive.read(name) for name in expected if name.startswith("gtFine"))
    before = mtimes(out)
    cityscapes.prepare(parse(cityscapes, "--gtfine", zips["gtfine"], "--leftimg", zips["leftimg"], "--out", out))
    assert mtimes(out) == before


def test_cityscapes_names_what_is_missing(tmp_path):
    zips = write_city_zips(tmp_path)
    swapped = parse(cityscapes, "--gtfine", zips["leftimg"], "--leftimg", zips["gtfine"], "--out", tmp_path / "o")
    with pytest.raises(UserError, match=r"holds no gtFine/train/<city>/\*_gtFine_labelIds.png and no gtFine/val"):
        cityscapes.prepare(swapped)
    (tmp_path / "no_val").mkdir()
    no_val = write_city_zips(tmp_path / "no_val", val=False)["gtfine"]
    with pytest.raises(UserError, match="holds no gtFine/val/<city>/"):
        cityscapes.prepare(parse(cityscapes, "--gtfine", no_val, "--leftimg", zips["leftimg"], "--out", tmp_path / "o"))
    assert not (tmp_path / "o" / "leftImg8bit").exists()


COCO_IDS = {"train2017": ["000000000009", "000000000025", "000000000030"], "val2017": ["000000000139"]}


def write_coco_zips(folder: Path, orphan_map: bool = False) -> dict[str, Path]:
    images = {split: {f"{split}/{i}.jpg": jpeg(n) for n, i in enumerate(ids)} for split, ids in COCO_IDS.items()}
    maps = {f"{split}/{i}.png": png(Image.fromarray(sbd_mask(i))) for split, ids in COCO_IDS.items() for i in ids[:2]}
    if orphan_map:
        maps["val2017/000000999999.png"] = maps["val2017/000000000139.png"]
    return {
        "train": write_zip(folder / "train2017.zip", images["train2017"]),
        "val": write_zip(folder / "val2017.zip", images["val2017"]),
        "maps": write_zip(folder / cocostuff.MAPS_ZIP, maps),
    }


def coco_args(zips: dict[str, Path], out: Path, *extra: str) -> argparse.Namespace:
    return parse(
        cocostuff, "--train-images", zips["train"], "--val-images", zips["val"], "--maps", zips["maps"], "--out", out,
        *extra,
    )  # fmt: skip


def test_cocostuff_layout_and_rerun(tmp_path, caplog):
    zips = write_coco_zips(tmp_path)
    with caplog.at_level(logging.WARNING):
        out = cocostuff.prepare(coco_args(zips, tmp_path / "out", "--skip-checksum"))
    assert "1 image without a map" in caplog.text  # train2017's third image: left out
    kept = {split: ids[:2] for split, ids in COCO_IDS.items()}
    expected = sorted(
        [f"images/{split}/{i}.jpg" for split, ids in kept.items() for i in ids]
        + [f"{cocostuff.MAPS}/{split}/{i}.png" for split, ids in kept.items() for i in ids]
    )
    assert sorted(mtimes(out)) == expected
    with zipfile.ZipFile(zips["train"]) as archive:
        assert (out / "images/train2017/000000000009.jpg").read_bytes() == archive.read("train2017/000000000009.jpg")
    before = mtimes(out)
    cocostuff.prepare(coco_args(zips, out, "--skip-checksum"))
    assert mtimes(out) == before


def test_cocostuff_checks(tmp_path, monkeypatch):
    zips = write_coco_zips(tmp_path)
    wrong = (
        re.escape(str(tmp_path / "train2017.zip")) + " has md5 [0-9a-f]{32}, not cced6.*not the official train2017.zip"
    )
    with pytest.raises(UserError, match=wrong):
        cocostuff.prepare(coco_args(zips, tmp_path / "out"))
    digests = {split: hashlib.md5(zips[key].read_bytes()).hexdigest() for split, key in (("train2017", "train"),
               ("val2017", "val"))}  # fmt: skip
    monkeypatch.setattr(cocostuff, "SPLITS", {s: (z, digests[s], n) for s, (z, _, n) in cocostuff.SPLITS.items()})
    assert (cocostuff.prepare(coco_args(zips, tmp_path / "out")) / "images" / "val2017").is_dir()
    (tmp_path / "orphan").mkdir()
    orphan = write_coco_zips(tmp_path / "orphan", orphan_map=True)
    with pytest.raises(UserError, match="1 map of stuffthingmaps_trainval2017/val2017 has no image"):
        cocostuff.prepare(coco_args(orphan, tmp_path / "o2", "--skip-checksum"))
    swapped = {**zips, "maps": zips["val"]}
    with pytest.raises(UserError, match="holds no train2017/\\*.png: it is not stuffthingmaps_trainval2017.zip"):
        cocostuff.prepare(coco_args(swapped, tmp_path / "o3", "--skip-checksum"))


def test_the_script_refuses_a_missing_file_in_one_line(tmp_path):
    command = [sys.executable, "scripts/prepare_data.py", "nyuv2", "--labeled", str(tmp_path / "nowhere.mat"),
               "--splits", str(tmp_path / "splits.mat"), "--out", str(tmp_path / "out")]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert "nowhere.mat (--labeled): no such file" in line and nyuv2.LABELED in line
    assert not (tmp_path / "out").exists()
