"""COCO-Stuff 164k (train2017 / val2017): images with their stuff+thing maps, in the release layout.

Reads ``train2017.zip``, ``val2017.zip`` and ``stuffthingmaps_trainval2017.zip`` in place and copies,
member by member::

    OUT/images/{train2017,val2017}/<id>.jpg
    OUT/stuffthingmaps_trainval2017/{train2017,val2017}/<id>.png

The image zips are checked against their md5; the maps zip has no published checksum, so its folders are
checked instead: every map must have its image. An image without a map is left out (with a warning).
"""

import argparse
import logging
import re
import zipfile
from pathlib import Path

from fungi_hb.data.prepare._common import (
    add_output,
    add_skip_checksum,
    check_md5,
    copy_zip_members,
    open_zip,
    output_folder,
    require_file,
)
from fungi_hb.errors import UserError
from fungi_hb.log import count

logger = logging.getLogger(__name__)

MAPS = "stuffthingmaps_trainval2017"
MAPS_ZIP = f"{MAPS}.zip"
# split -> (image zip, its md5, images in the release)
SPLITS = {
    "train2017": ("train2017.zip", "cced6f7f71b7629ddf16f17bbcfab6b2", 118287),
    "val2017": ("val2017.zip", "442b8da7639aecaf257c1dceb8ba8c80", 5000),
}

WHERE_TO_GET = f"""Where to download (nothing is downloaded here):
  --train-images  train2017.zip (18 GiB, md5 {SPLITS["train2017"][1]}), from
                  http://images.cocodataset.org/zips/train2017.zip
  --val-images    val2017.zip (778 MiB, md5 {SPLITS["val2017"][1]}), from
                  http://images.cocodataset.org/zips/val2017.zip
  --maps          {MAPS_ZIP} (659 MiB; no published checksum), from
                  http://calvin.inf.ed.ac.uk/wp-content/uploads/data/cocostuffdataset/{MAPS_ZIP}
(pages: https://cocodataset.org/#download and https://github.com/nightrome/cocostuff#downloads)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``prepare_data.py cocostuff``."""
    parser.add_argument("--train-images", type=Path, required=True, help="COCO's train2017.zip")
    parser.add_argument("--val-images", type=Path, required=True, help="COCO's val2017.zip")
    parser.add_argument("--maps", type=Path, required=True, help=f"COCO-Stuff's {MAPS_ZIP}")
    add_output(parser)
    add_skip_checksum(parser)


def prepare(args: argparse.Namespace) -> Path:
    """Copy the images and maps of train2017 and val2017 into ``args.out``; return it."""
    zips = {
        "train2017": require_file(args.train_images, "--train-images", "train2017.zip", "cocostuff"),
        "val2017": require_file(args.val_images, "--val-images", "val2017.zip", "cocostuff"),
    }
    maps = require_file(args.maps, "--maps", MAPS_ZIP, "cocostuff")
    out = output_folder(args.out)
    for split, path in zips.items():
        check_md5(path, SPLITS[split][1], SPLITS[split][0], args.skip_checksum)
    with open_zip(maps, MAPS_ZIP) as maps_zip:
        maps_by_split = {split: split_members(maps_zip, split, ".png", maps) for split in SPLITS}
        for split, path in zips.items():
            with open_zip(path, SPLITS[split][0]) as images_zip:
                images = split_members(images_zip, split, ".jpg", path)
                kept = pair(images, maps_by_split[split], split)
                targets = {images[i]: out / "images" / split / f"{i}.jpg" for i in kept}
                copy_zip_members(images_zip, targets, SPLITS[split][0])
            targets = {maps_by_split[split][i]: out / MAPS / split / f"{i}.png" for i in kept}
            copy_zip_members(maps_zip, targets, MAPS_ZIP)
    logger.info("COCO-Stuff is complete in %s", out)
    return out


def split_members(archive: zipfile.ZipFile, split: str, extension: str, path: Path) -> dict[str, str]:
    """{id: member} of the files ``<split>/<id><extension>`` at the top of a zip; a UserError if none."""
    pattern = re.compile(rf"{split}/([^/]+){re.escape(extension)}")
    members = {match.group(1): name for name in archive.namelist() if (match := pattern.fullmatch(name))}
    if not members:
        which = MAPS_ZIP if extension == ".png" else SPLITS[split][0]
        raise UserError(
            f"{path} holds no {split}/*{extension}: it is not {which}; download that (see prepare_data.py cocostuff "
            "--help)."
        )
    return members


def pair(images: dict[str, str], maps: dict[str, str], split: str) -> list[str]:
    """The ids of ``split`` with both an image and a map: a UserError for maps without an image, a warning
    for images without a map (left out)."""
    orphans = sorted(set(maps) - set(images))
    if orphans:
        raise UserError(
            f"{count(len(orphans), 'map')} of {MAPS}/{split} ha{'s' if len(orphans) == 1 else 've'} no image in "
            f"{SPLITS[split][0]} (e.g. {orphans[0]}): pass the complete {SPLITS[split][0]} (see --help)."
        )
    unmapped = len(images) - len(maps)
    if unmapped:
        logger.warning("%s: %s without a map in %s, left out", split, count(unmapped, "image"), MAPS_ZIP)
    if len(maps) != SPLITS[split][2]:
        logger.warning("%s: %s, not the released %d", split, count(len(maps), "image"), SPLITS[split][2])
    return sorted(maps)
