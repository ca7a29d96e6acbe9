"""NYU Depth v2 (the labeled release, 795 training and 654 test images of 480 x 640), as
``scripts/prepare_data.py nyuv2`` writes it: the depth layout of ``depth.py`` plus ``nyuv2.json``.
Scored as is standard: inside the evaluation crop (rows 45..471, columns 41..601 of 480 x 640, as shares of
the size at which it is scored), over measured depths up to 10 m, predictions clamped to [0.001, 10] m."""

from pathlib import Path

from fungi_hb.data.datasets.base import ClassOptions, DatasetKind, DepthSpec, Layout, register
from fungi_hb.data.datasets.depth import depth_layout, write_depth
from fungi_hb.data.files import FileTree
from fungi_hb.data.synthetic_images import SyntheticSpec
from fungi_hb.storage.atomic import save_json

MARKER = "nyuv2.json"
CROP = (45 / 480, 471 / 480, 41 / 640, 601 / 640)  # top, bottom, left, right
MAX_DEPTH = 10.0


@register
class Nyuv2(DatasetKind):
    name = "nyuv2"
    task = "depth"
    expected = "NYUv2 (images/, depth/, nyuv2.json, from scripts/prepare_data.py nyuv2)"
    detect_order = 80  # before depth maps of your own: the same layout with the marker

    def detect(self, tree: FileTree) -> Layout | None:
        if tree.is_file(MARKER) and tree.is_dir("images") and tree.is_dir("depth"):
            return depth_layout(tree, "NYU Depth v2, converted by scripts/prepare_data.py")
        return None

    def targets(self, layout: Layout, options: ClassOptions) -> DepthSpec:
        return DepthSpec("nyuv2", max_depth=MAX_DEPTH, crop=CROP)

    def synthetic(self) -> dict:
        return {"nyuv2": write_nyuv2}


def write_nyuv2(root: Path, spec: SyntheticSpec) -> Path:
    """The depth layout with NYUv2's marker (a stand-in for the converted release)."""
    write_depth(root, spec)
    save_json({"dataset": "nyuv2", "source": "synthetic", "train": spec.num_train, "val": spec.num_val}, root / MARKER)
    return root
