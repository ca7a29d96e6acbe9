"""Cityscapes (fine annotations, train and val): the release layout, only the files the reader needs.

Reads ``gtFine_trainvaltest.zip`` and ``leftImg8bit_trainvaltest.zip`` in place and copies, member by member::

    OUT/leftImg8bit/{train,val}/<city>/<name>_leftImg8bit.png
    OUT/gtFine/{train,val}/<city>/<name>_gtFine_labelIds.png

(the test split, the colour, instance and polygon files are left in the zips). Every image must have its
mask and every mask its image.
"""

import argparse
import logging
import re
import zipfile
from pathlib import Path

from fungi_hb.data.prepare._common import add_output, copy_zip_members, open_zip, output_folder, require_file
from fungi_hb.errors import UserError
from fungi_hb.log import count

logger = logging.getLogger(__name__)

GTFINE, LEFTIMG = "gtFine_trainvaltest.zip", "leftImg8bit_trainvaltest.zip"
SPLITS = {"train": 2975, "val": 500}  # images per split in the release
# (folder, file name ending) of the members read, by archive
KINDS = {GTFINE: ("gtFine", "_gtFine_labelIds.png"), LEFTIMG: ("leftImg8bit", "_leftImg8bit.png")}

WHERE_TO_GET = f"""Where to download (nothing is downloaded here; after registering, and accepting the terms):
  --gtfine   {GTFINE} (241 MiB, package 1), and
  --leftimg  {LEFTIMG} (11 GiB, package 3), both from
             https://www.cityscapes-dataset.com/downloads/
Neither zip has a published checksum: the preparation checks what they hold instead.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``prepare_data.py cityscapes``."""
    parser.add_argument("--gtfine", type=Path, required=True, help=f"the fine annotations, {GTFINE}")
    parser.add_argument("--leftimg", type=Path, required=True, help=f"the images, {LEFTIMG}")
    add_output(parser)


def prepare(args: argparse.Namespace) -> Path:
    """Copy the train and val images and labelIds masks into ``args.out``; return it."""
    gtfine = require_file(args.gtfine, "--gtfine", GTFINE, "cityscapes")
    leftimg = require_file(args.leftimg, "--leftimg", LEFTIMG, "cityscapes")
    out = output_folder(args.out)
    with open_zip(gtfine, GTFINE) as masks_zip, open_zip(leftimg, LEFTIMG) as images_zip:
        masks = split_members(masks_zip, gtfine, GTFINE)
        images = split_members(images_zip, leftimg, LEFTIMG)
        check_pairs(images, masks)
        copy_zip_members(images_zip, {name: out / name for name in images.values()}, LEFTIMG)
        copy_zip_members(masks_zip, {name: out / name for name in masks.values()}, GTFINE)
    logger.info("Cityscapes is complete in %s: %s", out, count(len(images), "image"))
    return out


def split_members(archive: zipfile.ZipFile, path: Path, download: str) -> dict[str, str]:
    """{``<split>/<city>/<name>``: member} of the train and val files the reader needs, from one zip; a
    UserError naming the folders that hold none."""
    folder, ending = KINDS[download]
    pattern = re.compile(rf"{folder}/({'|'.join(SPLITS)})/([^/]+)/([^/]+){re.escape(ending)}")
    members = {}
    for name in archive.namelist():
        match = pattern.fullmatch(name)
        if match:
            members["/".join(match.groups())] = name
    missing = [f"{folder}/{split}/<city>/*{ending}" for split in SPLITS if not members_of(members, split)]
    if missing:
        other = LEFTIMG if download == GTFINE else GTFINE
        raise UserError(
            f"{path} holds no {' and no '.join(missing)}: it is not {download} (is it {other}? the flags may be "
            "swapped); download it (see prepare_data.py cityscapes --help)."
        )
    for split, expected in SPLITS.items():
        found = len(members_of(members, split))
        if found != expected:
            logger.warning("%s: %s in %s/%s, not the released %d", path, count(found, "file"), folder, split, expected)
    return members


def members_of(members: dict[str, str], split: str) -> list[str]:
    """The ids of one split."""
    return [key for key in members if key.startswith(f"{split}/")]


def check_pairs(images: dict[str, str], masks: dict[str, str]) -> None:
    """A UserError unless every image has its mask and every mask its image."""
    for these, others, what, which in ((images, masks, "image", GTFINE), (masks, images, "mask", LEFTIMG)):
        alone = sorted(set(these) - set(others))
        if alone:
            raise UserError(
                f"{count(len(alone), what)} of train/val ha{'s' if len(alone) == 1 else 've'} no counterpart in "
                f"{which} (e.g. {alone[0]}): the two zips are not of the same release; download both again "
                "(see prepare_data.py cityscapes --help)."
            )
