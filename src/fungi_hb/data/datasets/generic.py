"""Your own data: ``images/<id>.jpg`` (or .jpeg/.png), ``masks/<id>.png`` (single-channel class ids, 255 =
ignore), ``train.txt`` and ``val.txt`` (one id per line) and ``classes.txt`` (one class name per line,
which also gives the class count). Ignored pixels take no part in memory labels."""

import hashlib
from pathlib import Path

from fungi_hb.data.datasets.base import ClassSpec, Layout, Split, bit_palette, identity_mapping
from fungi_hb.errors import UserError


class Generic:
    name = "generic"

    def detect(self, root: Path) -> Layout | None:
        if not all((root / name).exists() for name in ("images", "masks", "classes.txt")):
            return None
        images, masks = root / "images", root / "masks"
        return Layout(
            "your own data (images/, masks/, classes.txt)",
            root,
            Split(images, masks, root / "train.txt"),
            Split(images, masks, root / "val.txt"),
            image_suffixes=(".jpg", ".jpeg", ".png"),
        )

    def classes(self, layout: Layout, keep_other: bool) -> ClassSpec:
        path = layout.root / "classes.txt"
        try:
            names = read_class_names(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"Cannot read {path} ({exc}). Write one class name per line, in UTF-8.") from exc
        if not 1 <= len(names) <= 255:
            raise UserError(f"{path} lists {len(names)} classes; between 1 and 255 are supported (255 is ignore).")
        digest = hashlib.sha1("\n".join(names).encode()).hexdigest()[:8]
        return ClassSpec(f"generic-{len(names)}-{digest}", names, identity_mapping(len(names)), None, bit_palette())


def read_class_names(path: Path) -> tuple[str, ...]:
    """The class names of ``classes.txt``, line n (from 1) being class id n - 1, each stripped of surrounding
    whitespace. Blank lines at the end are ignored; a blank line before a name, or a name given twice, is
    refused, as either would put names under the wrong class ids."""
    lines = path.read_text(encoding="utf-8").splitlines()
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
