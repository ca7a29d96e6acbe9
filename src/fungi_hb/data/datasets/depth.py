"""Your own depth data: ``images/<id>.jpg`` (or .jpeg/.png), ``depth/<id>.png`` (16-bit single-channel PNGs of
millimetres, 0 where nothing was measured), ``train.txt`` and ``val.txt`` (one id per line). Scored over every
pixel with a measured depth (no crop, no cap)."""

from pathlib import Path

import numpy as np

from fungi_hb.data.datasets.base import ClassOptions, DatasetKind, DepthSpec, Layout, Split, register
from fungi_hb.data.files import FileTree
from fungi_hb.data.synthetic_images import (
    SyntheticSpec,
    depth_of,
    numbered,
    render_image,
    save_depth,
    save_image,
    save_list,
)

EXTENSIONS = (".jpg", ".jpeg", ".png")


def depth_layout(tree: FileTree, kind: str) -> Layout:
    """The images/, depth/, train.txt, val.txt layout (also NYUv2's, as its converter writes it)."""
    split = {name: Split("images", "depth", f"{name}.txt", extensions=EXTENSIONS, target_noun="depth map")
             for name in ("train", "val")}  # fmt: skip
    return Layout(kind, tree, split["train"], split["val"])


@register
class Depth(DatasetKind):
    name = "depth"
    task = "depth"
    expected = "depth (images/, depth/ of 16-bit millimetres, train.txt, val.txt)"
    detect_order = 85

    def detect(self, tree: FileTree) -> Layout | None:
        if tree.is_dir("images") and tree.is_dir("depth") and tree.is_file("train.txt"):
            return depth_layout(tree, "depth maps of your own (images/, depth/)")
        return None

    def targets(self, layout: Layout, options: ClassOptions) -> DepthSpec:
        return DepthSpec("depth")

    def synthetic(self) -> dict:
        return {"depth": write_depth}


def write_depth(root: Path, spec: SyntheticSpec) -> Path:
    """Images of shapes and their depth maps (each shape at its own distance, a few pixels unmeasured)."""
    rng, (height, width) = np.random.default_rng(spec.seed), spec.size
    for pattern, count, listed in (
        ("train_{:05d}", spec.num_train, "train.txt"),
        ("val_{:05d}", spec.num_val, "val.txt"),
    ):
        ids = numbered(pattern, count)
        for image_id in ids:
            image, mask = render_image(height, width, [1, 2, 3, 4, 5], rng, background=0, boundary=0)
            save_image(image, root / "images" / f"{image_id}.png")
            save_depth(depth_of(mask, rng), root / "depth" / f"{image_id}.png")
        save_list(ids, root / listed)
    return root
