"""Cityscapes, as released (``leftImg8bit_trainvaltest.zip`` and ``gtFine_trainvaltest.zip`` unpacked side by
side): ``leftImg8bit/{train,val}/<city>/<name>_leftImg8bit.png`` and
``gtFine/{train,val}/<city>/<name>_gtFine_labelIds.png``. An id is ``<city>/<name>``.

Scored over the 19 training classes: the official table from labelIds to trainIds keeps 19 of the 34
labelIds; every other one (void, ego vehicle, rectification border, ground, parking, rail track, guard rail,
bridge, tunnel, pole group, caravan, trailer, ...) is not scored. The 1024 x 2048 images are read whole and
take the same transforms as every dataset (method section 1): the memory's random resized crops are cut from
the whole image, the validation image is resized to S x S (squeezed 2:1), as open-hummingbird-eval does.
"""

from pathlib import Path

import numpy as np

from fungi_hb.data.datasets.base import (
    IGNORE,
    ClassOptions,
    ClassSpec,
    DatasetKind,
    Layout,
    Split,
    bit_palette,
    register,
)
from fungi_hb.data.files import FileTree
from fungi_hb.data.synthetic_images import SplitFiles, SyntheticSpec, render_image, save_image, save_mask

# labelId -> trainId of the official table (cityscapesScripts' labels.py), for the 19 scored classes
TRAIN_IDS = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12, 26: 13,
             27: 14, 28: 15, 31: 16, 32: 17, 33: 18}  # fmt: skip
CLASSES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
    "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
)  # fmt: skip
LABEL_IDS = 34  # labelIds 0..33 appear in the masks (license plates, -1, are drawn as the vehicle)
MIX_UP = (
    "Cityscapes masks hold labelIds 0..33; values of 255 with 0..18 are trainIds: the masks read here must be the "
    "*_gtFine_labelIds.png files, not *_gtFine_labelTrainIds.png ones (or renamed copies of them)."
)


def _mapping() -> tuple[int, ...]:
    return tuple(TRAIN_IDS.get(value, IGNORE) if value < LABEL_IDS else -1 for value in range(256))


@register
class Cityscapes(DatasetKind):
    name = "cityscapes"
    expected = "Cityscapes (leftImg8bit/train/<city>/ and gtFine/train/<city>/)"
    detect_order = 30

    def detect(self, tree: FileTree) -> Layout | None:
        if not (tree.is_dir("leftImg8bit/train") and tree.is_dir("gtFine/train")):
            return None
        split = {
            name: Split(
                f"leftImg8bit/{name}",
                f"gtFine/{name}",
                None,
                image_name="{id}_leftImg8bit{ext}",
                target_name="{id}_gtFine_labelIds.png",
                extensions=(".png",),
                depth=1,
            )
            for name in ("train", "val")
        }
        return Layout("Cityscapes, the official release layout", tree, split["train"], split["val"])

    def targets(self, layout: Layout, options: ClassOptions) -> ClassSpec:
        return ClassSpec("cityscapes-19", CLASSES, _mapping(), None, bit_palette(), MIX_UP)

    def synthetic(self) -> dict:
        return {"cityscapes": write_cityscapes}


def write_cityscapes(root: Path, spec: SyntheticSpec) -> Path:
    """Two cities per split, labelIds masks (road, building, car, person, sky on a void background)."""
    rng, (height, width) = np.random.default_rng(spec.seed), spec.size
    for split, count, cities in (("train", spec.num_train, ("aachen", "bochum")),
                                 ("val", spec.num_val, ("frankfurt", "lindau"))):  # fmt: skip
        for i in range(count):
            city = cities[i % 2]
            name = f"{city}_{i:06d}_000019"
            files = SplitFiles(
                [name],
                lambda n, c=city, s=split: root / "leftImg8bit" / s / c / f"{n}_leftImg8bit.png",
                lambda n, c=city, s=split: root / "gtFine" / s / c / f"{n}_gtFine_labelIds.png",
            )
            image, mask = render_image(height, width, [7, 11, 26, 24, 23], rng, background=0, boundary=1)
            save_image(image, files.image(name))
            save_mask(mask, files.mask(name))
    return root
