"""COCO-Stuff (the 164k release): ``images/{train2017,val2017}/<id>.jpg`` with
``stuffthingmaps_trainval2017/{train2017,val2017}/<id>.png``, whose pixels hold the COCO category id minus one
(things 0..89, stuff 91..181; 255 unlabelled). 171 categories are in use (80 things, 91 stuff).

Scored, by `data.classes`:
- ``coarse`` (the default): the 27 supercategories, 12 of things then 15 of stuff, each group in
  alphabetical order (the usual convention of dense self-supervised work);
- ``things``: the 12 thing supercategories, stuff pixels not scored (open-hummingbird-eval's "thing");
- ``stuff``: the 15 stuff supercategories, thing pixels not scored (open-hummingbird-eval's "stuff");
- ``fine``: the 171 categories, in id order.
Values that are no category of the release (the 11 unused thing ids, 182..254) are refused up front.
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
from fungi_hb.data.synthetic_images import MaskStyle, SplitFiles, SyntheticSpec, numbered, write_split

THINGS = {  # COCO category id -> (name, supercategory)
    1: ("person", "person"), 2: ("bicycle", "vehicle"), 3: ("car", "vehicle"), 4: ("motorcycle", "vehicle"),
    5: ("airplane", "vehicle"), 6: ("bus", "vehicle"), 7: ("train", "vehicle"), 8: ("truck", "vehicle"),
    9: ("boat", "vehicle"), 10: ("traffic light", "outdoor"), 11: ("fire hydrant", "outdoor"),
    13: ("stop sign", "outdoor"), 14: ("parking meter", "outdoor"), 15: ("bench", "outdoor"), 16: ("bird", "animal"),
    17: ("cat", "animal"), 18: ("dog", "animal"), 19: ("horse", "animal"), 20: ("sheep", "animal"),
    21: ("cow", "animal"), 22: ("elephant", "animal"), 23: ("bear", "animal"), 24: ("zebra", "animal"),
    25: ("giraffe", "animal"), 27: ("backpack", "accessory"), 28: ("umbrella", "accessory"),
    31: ("handbag", "accessory"), 32: ("tie", "accessory"), 33: ("suitcase", "accessory"), 34: ("frisbee", "sports"),
    35: ("skis", "sports"), 36: ("snowboard", "sports"), 37: ("sports ball", "sports"), 38: ("kite", "sports"),
    39: ("baseball bat", "sports"), 40: ("baseball glove", "sports"), 41: ("skateboard", "sports"),
    42: ("surfboard", "sports"), 43: ("tennis racket", "sports"), 44: ("bottle", "kitchen"),
    46: ("wine glass", "kitchen"), 47: ("cup", "kitchen"), 48: ("fork", "kitchen"), 49: ("knife", "kitchen"),
    50: ("spoon", "kitchen"), 51: ("bowl", "kitchen"), 52: ("banana", "food"), 53: ("apple", "food"),
    54: ("sandwich", "food"), 55: ("orange", "food"), 56: ("broccoli", "food"), 57: ("carrot", "food"),
    58: ("hot dog", "food"), 59: ("pizza", "food"), 60: ("donut", "food"), 61: ("cake", "food"),
    62: ("chair", "furniture"), 63: ("couch", "furniture"), 64: ("potted plant", "furniture"),
    65: ("bed", "furniture"), 67: ("dining table", "furniture"), 70: ("toilet", "furniture"),
    72: ("tv", "electronic"), 73: ("laptop", "electronic"), 74: ("mouse", "electronic"), 75: ("remote", "electronic"),
    76: ("keyboard", "electronic"), 77: ("cell phone", "electronic"), 78: ("microwave", "appliance"),
    79: ("oven", "appliance"), 80: ("toaster", "appliance"), 81: ("sink", "appliance"),
    82: ("refrigerator", "appliance"), 84: ("book", "indoor"), 85: ("clock", "indoor"), 86: ("vase", "indoor"),
    87: ("scissors", "indoor"), 88: ("teddy bear", "indoor"), 89: ("hair drier", "indoor"),
    90: ("toothbrush", "indoor"),
}  # fmt: skip
_STUFF_NAMES = (  # ids 92..182 in order, with their supercategories
    "banner textile", "blanket textile", "branch plant", "bridge building", "building-other building",
    "bush plant", "cabinet furniture-stuff", "cage structural", "cardboard raw-material", "carpet floor",
    "ceiling-other ceiling", "ceiling-tile ceiling", "cloth textile", "clothes textile", "clouds sky",
    "counter furniture-stuff", "cupboard furniture-stuff", "curtain textile", "desk-stuff furniture-stuff",
    "dirt ground", "door-stuff furniture-stuff", "fence structural", "floor-marble floor", "floor-other floor",
    "floor-stone floor", "floor-tile floor", "floor-wood floor", "flower plant", "fog water",
    "food-other food-stuff", "fruit food-stuff", "furniture-other furniture-stuff", "grass plant", "gravel ground",
    "ground-other ground", "hill solid", "house building", "leaves plant", "light furniture-stuff",
    "mat textile", "metal raw-material", "mirror-stuff furniture-stuff", "moss plant", "mountain solid",
    "mud ground", "napkin textile", "net structural", "paper raw-material", "pavement ground", "pillow textile",
    "plant-other plant", "plastic raw-material", "platform ground", "playingfield ground", "railing structural",
    "railroad ground", "river water", "road ground", "rock solid", "roof building", "rug textile",
    "salad food-stuff", "sand ground", "sea water", "shelf furniture-stuff", "sky-other sky",
    "skyscraper building", "snow ground", "solid-other solid", "stairs furniture-stuff", "stone solid",
    "straw plant", "structural-other structural", "table furniture-stuff", "tent building",
    "textile-other textile", "towel textile", "tree plant", "vegetable food-stuff", "wall-brick wall",
    "wall-concrete wall", "wall-other wall", "wall-panel wall", "wall-stone wall", "wall-tile wall",
    "wall-wood wall", "water-other water", "waterdrops water", "window-blind window", "window-other window",
    "wood solid",
)  # fmt: skip
STUFF = {92 + i: tuple(entry.rsplit(" ", 1)) for i, entry in enumerate(_STUFF_NAMES)}
CATEGORIES = {**THINGS, **STUFF}  # 171 categories: id -> (name, supercategory)
THING_GROUPS = tuple(sorted({group for _, group in THINGS.values()}))  # 12
STUFF_GROUPS = tuple(sorted({group for _, group in STUFF.values()}))  # 15
CHOICES = ("coarse", "things", "stuff", "fine")


def class_spec(choice: str) -> ClassSpec:
    """The classes of one way of scoring (see the module docstring), through a table of mask values."""
    if choice == "fine":
        ids = sorted(CATEGORIES)
        names = tuple(CATEGORIES[i][0] for i in ids)
        index = {category: i for i, category in enumerate(ids)}
    else:
        groups = {"coarse": THING_GROUPS + STUFF_GROUPS, "things": THING_GROUPS, "stuff": STUFF_GROUPS}[choice]
        names = groups
        position = {group: i for i, group in enumerate(groups)}
        index = {category: position.get(group, IGNORE) for category, (_, group) in CATEGORIES.items()}
    table = [IGNORE if value == IGNORE else index.get(value + 1, -1) for value in range(256)]
    return ClassSpec(f"cocostuff-{len(names)}", names, tuple(table), None, bit_palette())


@register
class CocoStuff(DatasetKind):
    name = "cocostuff"
    expected = "COCO-Stuff (images/train2017 and stuffthingmaps_trainval2017/train2017)"
    detect_order = 40
    class_choices = ("default", *CHOICES)

    def detect(self, tree: FileTree) -> Layout | None:
        masks = "stuffthingmaps_trainval2017"
        if not (tree.is_dir("images/train2017") and tree.is_dir(f"{masks}/train2017")):
            return None
        split = {name: Split(f"images/{name}", f"{masks}/{name}", None) for name in ("train2017", "val2017")}
        return Layout("COCO-Stuff, the 164k release layout", tree, split["train2017"], split["val2017"])

    def targets(self, layout: Layout, options: ClassOptions) -> ClassSpec:
        return class_spec("coarse" if options.classes == "default" else options.classes)

    def synthetic(self) -> dict:
        return {"cocostuff": write_cocostuff}


def write_cocostuff(root: Path, spec: SyntheticSpec) -> Path:
    """Stuff-map masks: shapes of person, car, dog and pizza on grass, sky and road (values id - 1)."""
    rng = np.random.default_rng(spec.seed)
    style = MaskStyle(classes=(0, 2, 17, 58, 156), background=123, boundary=IGNORE)  # person car dog pizza sky / grass
    for split, count in (("train2017", spec.num_train), ("val2017", spec.num_val)):
        files = SplitFiles(
            numbered("{:012d}", count) if split == "val2017" else numbered("1{:011d}", count),
            lambda i, s=split: root / "images" / s / f"{i}.jpg",
            lambda i, s=split: root / "stuffthingmaps_trainval2017" / s / f"{i}.png",
        )
        write_split(files, spec, style, rng)
    return root
