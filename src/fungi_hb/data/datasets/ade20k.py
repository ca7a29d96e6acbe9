"""ADE20K, as the SceneParsing benchmark ships it (``ADEChallengeData2016/``): ``images/{training,validation}
/<id>.jpg`` and ``annotations/{training,validation}/<id>.png``, single-channel, 0 = other/unlabelled and
1..150 the classes. By default 0 is ignored and 1..150 become classes 0..149 (the usual convention);
``keep_other`` scores 0 as a 151st class "other" (what the open HummingBird evaluation does). Without list
files every image of a split is used, sorted by name; ``data.train_list``/``data.val_list`` pick subsets."""

from pathlib import Path

from fungi_hb.data.datasets.base import IGNORE, ClassSpec, Layout, Split, bit_palette, identity_mapping

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


class Ade20k:
    name = "ade20k"

    def detect(self, root: Path) -> Layout | None:
        for base in (root, root / "ADEChallengeData2016"):
            if (base / "images" / "training").is_dir() and (base / "annotations" / "training").is_dir():
                split = {
                    name: Split(base / "images" / name, base / "annotations" / name, None)
                    for name in ("training", "validation")
                }
                return Layout("ADE20K, the ADEChallengeData2016 layout", base, split["training"], split["validation"])
        return None

    def classes(self, layout: Layout, keep_other: bool) -> ClassSpec:
        if keep_other:
            return ClassSpec("ade20k-151", ("other", *ADE20K_CLASSES), identity_mapping(151), None, bit_palette())
        mapping = tuple(
            IGNORE if v == 0 else (v - 1 if v <= 150 else (IGNORE if v == IGNORE else -1)) for v in range(256)
        )
        return ClassSpec("ade20k-150", ADE20K_CLASSES, mapping, None, bit_palette())
