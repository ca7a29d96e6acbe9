"""Your own data: ``images/<id>.jpg`` (or .jpeg/.png), ``masks/<id>.png`` (single-channel class ids, 255 =
ignore), ``train.txt`` and ``val.txt`` (one id per line) and ``classes.txt`` (one class name per line,
which also gives the class count). Ignored pixels take no part in memory labels."""

import hashlib
from pathlib import Path

import numpy as np

from fungi_hb.data.datasets.base import (
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
from fungi_hb.errors import UserError


@register
class Generic(DatasetKind):
    name = "generic"
    expected = "your own (images/, masks/, classes.txt, train.txt, val.txt)"
    detect_order = 90  # any folder of images/ and masks/: after every dataset with a layout of its own

    def detect(self, tree: FileTree) -> Layout | None:
        if not all(tree.exists(name) for name in ("images", "masks", "classes.txt")):
            return None
        extensions = (".jpg", ".jpeg", ".png")
        return Layout(
            "your own data (images/, masks/, classes.txt)",
            tree,
            Split("images", "masks", "train.txt", extensions=extensions),
            Split("images", "masks", "val.txt", extensions=extensions),
        )

    def targets(self, layout: Layout, options: ClassOptions) -> ClassSpec:
        try:
            names = read_class_names(layout.tree, "classes.txt")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(
                f"Cannot read {layout.tree.show('classes.txt')} ({exc}). Write one class name per line, in UTF-8."
            ) from exc
        if not 1 <= len(names) <= 255:
            raise UserError(
                f"{layout.tree.show('classes.txt')} lists {len(names)} classes; between 1 and 255 are supported "
                "(255 is ignore)."
            )
        digest = hashlib.sha1("\n".join(names).encode()).hexdigest()[:8]
        return ClassSpec(f"generic-{len(names)}-{digest}", names, identity_mapping(len(names)), None, bit_palette())

    def synthetic(self) -> dict:
        return {"generic": write_generic}


def write_generic(root: Path, spec: SyntheticSpec) -> Path:
    """images/, masks/, train.txt, val.txt and classes.txt of ``spec.num_classes`` classes."""
    rng = np.random.default_rng(spec.seed)
    style = MaskStyle(classes=tuple(range(1, spec.num_classes)))
    for pattern, count, listed in (
        ("train_{:05d}", spec.num_train, "train.txt"),
        ("val_{:05d}", spec.num_val, "val.txt"),
    ):
        files = SplitFiles(
            numbered(pattern, count), lambda i: root / "images" / f"{i}.jpg", lambda i: root / "masks" / f"{i}.png",
            root / listed,
        )  # fmt: skip
        write_split(files, spec, style, rng)
    (root / "classes.txt").write_text("".join(f"class{c}\n" for c in range(spec.num_classes)))
    return root


def read_class_names(tree: FileTree, name: str) -> tuple[str, ...]:
    """The class names of ``classes.txt``, line n (from 1) being class id n - 1, each stripped of surrounding
    whitespace. Blank lines at the end are ignored; a blank line before a name, or a name given twice, is
    refused, as either would put names under the wrong class ids."""
    path = tree.show(name)
    lines = tree.read_text(name).splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        name = line.strip()
        if not name:
            raise UserError(
                f"{path} line {number} is blank, which would shift every later class to the wrong id. "
                "Remove the line (one class name per line, line 1 being class 0)."
            )
        if name in first_line:
            raise UserError(
                f"{path} lists the class name {name!r} twice (lines {first_line[name]} and {number}; surrounding "
                "whitespace is ignored). Give every class its own name."
            )
        first_line[name] = number
    return tuple(first_line)
