"""Pascal VOC 2012 with SBD's extra masks: the published VOCSegmentation folder (trainaug and val).

Reads ``VOCtrainval_11-May-2012.tar`` and SBD's ``benchmark.tgz`` (or the widely shared
``SegmentationClassAug.zip``) in place, member by member, and writes::

    OUT/images/<id>.jpg                  JPEGImages of every trainaug and val id, byte for byte
    OUT/SegmentationClass/<id>.png       VOC2012's masks as they are (palette PNGs, 255 on object boundaries)
    OUT/SegmentationClassAug/<id>.png    every trainaug id: VOC2012's mask where it has one, else SBD's
                                         (an 8-bit PNG of class ids 0..20)
    OUT/sets/trainaug.txt, sets/val.txt  10,582 and 1,449 ids, written last

trainaug = (VOC2012 train + SBD train + SBD val) minus VOC2012 val.
"""

import argparse
import io
import logging
import re
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.io import loadmat

from fungi_hb.data.prepare._common import (
    add_output,
    add_skip_checksum,
    check_md5,
    copy_zip_members,
    log_progress,
    open_tar,
    open_zip,
    output_folder,
    read_ids,
    require_file,
    save_png,
    tar_members,
    write_lines,
    write_stream,
)
from fungi_hb.errors import UserError
from fungi_hb.log import count

logger = logging.getLogger(__name__)

VOC_TAR, SBD_TGZ, AUG_ZIP = "VOCtrainval_11-May-2012.tar", "benchmark.tgz", "SegmentationClassAug.zip"
VOC_MD5 = "6cd6e144f989b92b3379bac3b3de84fd"
SBD_MD5 = "82b4d87ceb2ed10f6038a1cba92111cb"
TRAINAUG_IDS, VAL_IDS = 10582, 1449  # the sizes of the published lists
VOC_BASE = "VOCdevkit/VOC2012/"
SBD_BASE = "benchmark_RELEASE/dataset/"
NUM_CLASSES = 21

WHERE_TO_GET = f"""Where to download (nothing is downloaded here):
  --voc      {VOC_TAR} (1.9 GiB, md5 {VOC_MD5}), from
             http://host.robots.ox.ac.uk/pascal/VOC/voc2012/{VOC_TAR}
             (page: http://host.robots.ox.ac.uk/pascal/VOC/voc2012/)
  --sbd      {SBD_TGZ}, the Semantic Boundaries Dataset (1.4 GiB, md5 {SBD_MD5}), from
             https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/semantic_contours/{SBD_TGZ}
             (page: http://home.bharathh.info/pubs/codes/SBD/download.html)
  --aug-zip  instead of --sbd: {AUG_ZIP}, SBD's masks as PNGs (12,031 of them; no published checksum), from
             https://www.dropbox.com/s/oeu149j8qtbs1x0/{AUG_ZIP}?dl=0
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``prepare_data.py voc``."""
    parser.add_argument("--voc", type=Path, required=True, help=f"the VOC2012 trainval archive, {VOC_TAR}")
    extra = parser.add_mutually_exclusive_group(required=True)
    extra.add_argument("--sbd", type=Path, help=f"SBD's {SBD_TGZ}")
    extra.add_argument("--aug-zip", type=Path, help=f"{AUG_ZIP} (instead of --sbd)")
    add_output(parser)
    add_skip_checksum(parser)


def prepare(args: argparse.Namespace) -> Path:
    """Build the VOCSegmentation folder in ``args.out``; return it."""
    voc = require_file(args.voc, "--voc", VOC_TAR, "voc")
    extra = require_file(args.sbd, "--sbd", SBD_TGZ, "voc") if args.sbd else None
    aug = require_file(args.aug_zip, "--aug-zip", AUG_ZIP, "voc") if extra is None else None
    out = output_folder(args.out)
    check_md5(voc, VOC_MD5, VOC_TAR, args.skip_checksum)
    if extra is not None:
        check_md5(extra, SBD_MD5, SBD_TGZ, args.skip_checksum)
    with open_tar(voc, VOC_TAR) as tar:
        members = voc_members(tar, voc)
        train, val = voc_list(tar, members, "train", voc), voc_list(tar, members, "val", voc)
        extra_ids = sbd_ids(extra) if extra is not None else aug_ids(aug, set(train) | set(val))
        trainaug = sorted((set(train) | extra_ids) - set(val))
        check_counts(trainaug, val)
        copy_voc_files(tar, members, trainaug, val, out)
    masked = mask_ids(members)
    needed = [i for i in trainaug if i not in masked and not (out / "SegmentationClassAug" / f"{i}.png").exists()]
    if extra is not None:
        write_sbd_masks(extra, needed, out / "SegmentationClassAug")
    else:
        copy_aug_masks(aug, needed, out / "SegmentationClassAug")
    write_lines(trainaug, out / "sets" / "trainaug.txt")
    write_lines(val, out / "sets" / "val.txt")
    logger.info("VOCSegmentation is complete in %s: %s, %s", out, count(len(trainaug), "trainaug id"),
                count(len(val), "val id"))  # fmt: skip
    return out


def voc_members(tar: tarfile.TarFile, path: Path) -> dict[str, tarfile.TarInfo]:
    """{name under VOCdevkit/VOC2012/: member} of the files the preparation reads."""
    wanted = re.compile(r"(JPEGImages/[^/]+\.jpg|SegmentationClass/[^/]+\.png|ImageSets/Segmentation/\w+\.txt)")
    members = {}
    for member in tar_members(tar, path, VOC_TAR):
        name = member.name.removeprefix("./")
        if member.isfile() and name.startswith(VOC_BASE) and wanted.fullmatch(name[len(VOC_BASE) :]):
            members[name[len(VOC_BASE) :]] = member
    return members


def voc_list(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], split: str, path: Path) -> list[str]:
    """The ids of ImageSets/Segmentation/<split>.txt."""
    name = f"ImageSets/Segmentation/{split}.txt"
    if name not in members:
        raise UserError(f"{path} holds no {VOC_BASE}{name}: it is not {VOC_TAR}; download that (see --help).")
    return read_ids(tar.extractfile(members[name]).read())


def mask_ids(members: dict[str, tarfile.TarInfo]) -> set[str]:
    """The ids with a mask in VOC2012's SegmentationClass."""
    prefix = "SegmentationClass/"
    return {name[len(prefix) : -len(".png")] for name in members if name.startswith(prefix)}


def check_counts(trainaug: list[str], val: list[str]) -> None:
    """Warn where the lists differ from the published ones (tiny test archives, re-packed downloads)."""
    if len(trainaug) != TRAINAUG_IDS:
        logger.warning("trainaug has %s, not the published %d: are these the official archives?",
                       count(len(trainaug), "id"), TRAINAUG_IDS)  # fmt: skip
    if len(val) != VAL_IDS:
        logger.warning("val has %s, not the published %d: is this the official VOC2012 archive?",
                       count(len(val), "id"), VAL_IDS)  # fmt: skip


def copy_voc_files(
    tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], trainaug: list[str], val: list[str], out: Path
) -> None:
    """Images of every id, VOC2012's masks, and VOC2012's masks of trainaug ids into SegmentationClassAug."""
    masks = sorted(name for name in members if name.startswith("SegmentationClass/"))
    missing = [i for i in [*trainaug, *val] if f"JPEGImages/{i}.jpg" not in members]
    missing += [i for i in val if f"SegmentationClass/{i}.png" not in members]
    if missing:
        raise UserError(
            f"{tar.name} lacks the image or mask of {count(len(missing), 'listed id')} (e.g. {missing[0]}): it is "
            f"not the complete {VOC_TAR}; download it again (see --help)."
        )
    targets = {f"JPEGImages/{i}.jpg": [out / "images" / f"{i}.jpg"] for i in [*trainaug, *val]}
    for name in masks:
        targets[name] = [out / name]
    for i in set(trainaug) & mask_ids(members):
        targets[f"SegmentationClass/{i}.png"].append(out / "SegmentationClassAug" / f"{i}.png")
    todo = {name: paths for name, paths in targets.items() if not all(p.exists() for p in paths)}
    logger.info("Copying %s from %s (%d already there)", count(len(todo), "file"), VOC_TAR, len(targets) - len(todo))
    for done, (name, paths) in enumerate(sorted(todo.items(), key=lambda item: members[item[0]].offset), 1):
        data = tar.extractfile(members[name]).read()  # one image or mask: at most a few hundred KiB
        for path in paths:
            if not path.exists():
                write_stream(io.BytesIO(data), path)
        log_progress(done, len(todo), "VOC2012 files")


def sbd_ids(path: Path) -> set[str]:
    """SBD train + val ids (a first pass over the .tgz, which cannot be read out of order)."""
    lists = {}
    with open_tar(path, SBD_TGZ) as tar:
        for member in tar_members(tar, path, SBD_TGZ):
            name = member.name.removeprefix("./")
            if name in (f"{SBD_BASE}train.txt", f"{SBD_BASE}val.txt"):
                lists[name] = read_ids(tar.extractfile(member).read())
                if len(lists) == 2:
                    return set(lists[f"{SBD_BASE}train.txt"]) | set(lists[f"{SBD_BASE}val.txt"])
    raise UserError(f"{path} holds no {SBD_BASE}train.txt and val.txt: it is not SBD's {SBD_TGZ} (see --help).")


def write_sbd_masks(path: Path, needed: list[str], folder: Path) -> None:
    """SBD's mask of each ``needed`` id as an 8-bit PNG of class ids (a second, in-order pass over the .tgz)."""
    if not needed:
        return
    logger.info("Writing %s from %s", count(len(needed), "SBD mask"), SBD_TGZ)
    wanted, done = set(needed), 0
    with open_tar(path, SBD_TGZ) as tar:
        for member in tar_members(tar, path, SBD_TGZ):
            name = member.name.removeprefix("./")
            if not (name.startswith(f"{SBD_BASE}cls/") and name.endswith(".mat")):
                continue
            image_id = name[len(f"{SBD_BASE}cls/") : -len(".mat")]
            if image_id in wanted:
                mask = sbd_mask(tar.extractfile(member).read(), f"{path}:{name}")  # [H, W] uint8
                save_png(Image.fromarray(mask), folder / f"{image_id}.png")  # uint8: mode "L"
                wanted.discard(image_id)
                done += 1
                log_progress(done, len(needed), "SBD masks")
    if wanted:
        raise UserError(
            f"{path} lacks {SBD_BASE}cls/<id>.mat for {count(len(wanted), 'listed id')} (e.g. {min(wanted)}): "
            f"it is not the complete {SBD_TGZ}; download it again (see --help)."
        )


def sbd_mask(data: bytes, where: str) -> np.ndarray:
    """The class ids [H, W] uint8 of one SBD cls/<id>.mat (MATLAB v5: struct GTcls, field Segmentation)."""
    try:
        content = loadmat(io.BytesIO(data), squeeze_me=True, struct_as_record=False)
        mask = np.asarray(content["GTcls"].Segmentation)
    except (ValueError, KeyError, AttributeError, TypeError, OSError) as exc:
        raise UserError(f"{where} is not an SBD class mask ({exc}): download {SBD_TGZ} again (see --help).") from exc
    if mask.ndim != 2 or mask.size == 0 or mask.min() < 0 or mask.max() >= NUM_CLASSES:
        raise UserError(f"{where} holds no [H, W] mask of class ids 0..20: download {SBD_TGZ} again (see --help).")
    return mask.astype(np.uint8)


def aug_ids(path: Path, voc_ids: set[str]) -> set[str]:
    """The ids with a mask in SegmentationClassAug.zip, which must cover every VOC2012 segmentation id."""
    with open_zip(path, AUG_ZIP) as archive:
        ids = set(aug_members(archive))
    missing = sorted(voc_ids - ids)
    if missing:
        raise UserError(
            f"{path} lacks SegmentationClassAug/<id>.png for {count(len(missing), 'VOC2012 id')} (e.g. {missing[0]}): "
            f"it is not {AUG_ZIP}; download it (see --help) or pass SBD's {SBD_TGZ} with --sbd."
        )
    return ids


def aug_members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """{id: member} of the masks SegmentationClassAug/<id>.png (macOS resource forks left out)."""
    members = {}
    for info in archive.infolist():
        parts = info.filename.split("/")
        if len(parts) >= 2 and parts[-2] == "SegmentationClassAug" and parts[-1].endswith(".png"):
            if "__MACOSX" not in parts and not parts[-1].startswith("._"):
                members[parts[-1][: -len(".png")]] = info
    return members


def copy_aug_masks(path: Path, needed: list[str], folder: Path) -> None:
    """The zip's masks of the ``needed`` ids, byte for byte."""
    if not needed:
        return
    with open_zip(path, AUG_ZIP) as archive:
        members = aug_members(archive)
        copy_zip_members(archive, {members[i].filename: folder / f"{i}.png" for i in needed}, AUG_ZIP)


# ---- Shared by every preparation of this folder ---------------------------------------------------------------
