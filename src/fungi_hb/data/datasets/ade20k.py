"""ADE20K, as the SceneParsing benchmark ships it (``ADEChallengeData2016/``): ``images/{training,validation}
/<id>.jpg`` and ``annotations/{training,validation}/<id>.png``, single-channel, 0 = other/unlabelled and
1..150 the classes. By default 0 is ignored and 1..150 become classes 0..149 (the usual convention);
``keep_other`` scores 0 as a 151st class "other" (what the open HummingBird evaluation does). Without list
files every image of a split is used, sorted by name; ``data.train_list``/``data.val_list`` pick subsets."""

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
    identity_mapping,
    register,
)
from fungi_hb.data.files import FileTree
from fungi_hb.data.synthetic_images import MaskStyle, SplitFiles, SyntheticSpec, numbered, write_split

ADE20K_CLASSES = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass", "cabinet",
    "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair", "car", "water",
    "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field", "armchair", "seat", "fence", "desk",
    "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion", "base", "box", "column", "signboard",
    "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace", "refrigerator", "grandstand",
    "path", "stairs", "runway", "case", "pool table", "pillow", "screen door", "stairway", "river", "bridge",
    "bookcase", "blind", "coffee table", "toilet", "flower", "book", "hill", "bench", "countertop", "stove",
    "palm", "kitchen island", "computer", "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus",
    "towel", "light", "truck", "tower", "chandelier", "awning", "streetlight", "booth", "television receiver",
    "airplane", "dirt track", "apparel", "pole", "land", "bannister", "escalator", "ottoman", "bottle",
    "buffet", "poster", "stage", "van", "ship", "fountain", "conveyer belt", "canopy", "washer", "plaything",
    "swimming pool", "stool", "barrel", "basket", "waterfall", "tent", "bag", "minibike", "cradle", "oven",
    "ball", "food", "step", "tank", "trade name", "microwave", "pot", "animal", "bicycle", "lake",
    "dishwasher", "screen", "blanket", "sculpture", "hood", "sconce", "vase", "traffic light", "tray",
    "ashcan", "fan", "pier", "crt screen", "plate", "monitor", "bulletin board", "shower", "radiator", "glass",
    "clock", "flag",
)  # fmt: skip


@register
class Ade20k(DatasetKind):
    name = "ade20k"
    expected = "ADE20K (ADEChallengeData2016 with images/training and annotations/training)"
    detect_order = 20

    def detect(self, tree: FileTree) -> Layout | None:
        for base in ("", "ADEChallengeData2016"):
            root = tree.sub(base) if base else tree
            if root.is_dir("images/training") and root.is_dir("annotations/training"):
                split = {
                    name: Split(f"images/{name}", f"annotations/{name}", None) for name in ("training", "validation")
                }
                return Layout("ADE20K, the ADEChallengeData2016 layout", root, split["training"], split["validation"])
        return None

    def targets(self, layout: Layout, options: ClassOptions) -> ClassSpec:
        if options.keep_other:
            return ClassSpec("ade20k-151", ("other", *ADE20K_CLASSES), identity_mapping(151), None, bit_palette())
        mapping = tuple(
            IGNORE if v == 0 else (v - 1 if v <= 150 else (IGNORE if v == IGNORE else -1)) for v in range(256)
        )
        return ClassSpec("ade20k-150", ADE20K_CLASSES, mapping, None, bit_palette())

    def synthetic(self) -> dict:
        return {"ade20k": write_ade20k}


def write_ade20k(root: Path, spec: SyntheticSpec) -> Path:
    """ADEChallengeData2016: the background is class 1 ("wall"), boundaries 0 ("other")."""
    base, rng = root / "ADEChallengeData2016", np.random.default_rng(spec.seed)
    style = MaskStyle(classes=(3, 5, 13, 21, 88, 150), background=1, boundary=0)
    for split, pattern, count in (("training", "ADE_train_{:08d}", spec.num_train),
                                  ("validation", "ADE_val_{:08d}", spec.num_val)):  # fmt: skip
        files = SplitFiles(
            numbered(pattern, count),
            lambda i, s=split: base / "images" / s / f"{i}.jpg",
            lambda i, s=split: base / "annotations" / s / f"{i}.png",
        )
        write_split(files, spec, style, rng)
    return base
