"""The datasets this tool knows (every module of ``data/datasets/`` but this one and ``base``), and how the one
in ``data.data_dir`` is chosen."""

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path

from fungi_hb.data.datasets.base import ClassOptions, ClassSpec, DatasetKind, Layout, TargetSpec, registered
from fungi_hb.data.files import FileTree, is_archive, open_tree
from fungi_hb.errors import UserError

_NOT_DATASETS = {"base", "registry"}


def datasets() -> dict[str, DatasetKind]:
    """Every dataset by name, in the order auto-detection tries them."""
    folder = Path(__file__).parent
    for module in pkgutil.iter_modules([str(folder)]):
        if module.name not in _NOT_DATASETS:
            importlib.import_module(f"{__package__}.{module.name}")
    return dict(sorted(registered().items(), key=lambda item: (item[1].detect_order, item[0])))


def dataset_names() -> tuple[str, ...]:
    return tuple(datasets())


@dataclass(frozen=True)
class Dataset:
    """A dataset found on disk: where its splits are and how its targets are scored."""

    kind: DatasetKind
    layout: Layout
    targets: TargetSpec  # its classes (segmentation) or how its depth maps are read and scored

    @property
    def classes(self) -> ClassSpec:
        if not isinstance(self.targets, ClassSpec):
            raise TypeError(f"{self.targets.name} is a depth dataset: it has no classes")
        return self.targets

    @property
    def label(self) -> str:
        """A name for people: the folder's name for your own data, else the dataset's name."""
        name = self.targets.name
        return self.layout.tree.name if name.startswith("generic-") or name == "depth" else name


def open_dataset(root: Path, name: str = "auto", options: ClassOptions = ClassOptions()) -> Dataset:
    """The dataset in ``root`` (a folder or an archive): the first whose layout is there, or the one ``name``
    forces."""
    known = datasets()
    if name != "auto" and name not in known:
        raise UserError(f"Unknown `data.dataset` {name!r}: use auto, {', '.join(known)}.")
    tree = open_tree(Path(root))
    kinds = [known[name]] if name != "auto" else list(known.values())
    for kind in kinds:
        layout = _find(kind, tree, Path(root))
        if layout is not None:
            _check_options(kind, options, root)
            return Dataset(kind, layout, kind.targets(layout, options))
    expected = "; ".join(kind.expected for kind in kinds)
    forced = f"does not hold {name}" if name != "auto" else "holds none of the known layouts"
    raise UserError(f"`data.data_dir` {root} {forced}: expected {expected}. Check `data.data_dir` (docs/data.md).")


def _find(kind: DatasetKind, tree: FileTree, root: Path) -> Layout | None:
    """``kind``'s layout at the root; in an archive also one folder down (archives usually hold the
    dataset's folder), refusing an archive that holds two of them."""
    layout = kind.detect(tree)
    if layout is not None or not is_archive(root):
        return layout
    found = [(top, kind.detect(tree.sub(top))) for top in tree.list_dir("") if tree.is_dir(top)]
    found = [(top, layout) for top, layout in found if layout is not None]
    if len(found) > 1:
        raise UserError(
            f"The archive {root} holds {len(found)} {kind.name} datasets ({', '.join(top for top, _ in found)}): "
            "make an archive of one of them, or unpack it and point `data.data_dir` at one."
        )
    return found[0][1] if found else None


def _check_options(kind: DatasetKind, options: ClassOptions, root: Path) -> None:
    if options.keep_other and kind.name != "ade20k":
        raise UserError(
            f"`data.keep_other` applies to ADE20K only, but `data.data_dir` {root} holds {kind.name}. Drop "
            "`data.keep_other`."
        )
    if options.classes not in kind.class_choices:
        raise UserError(
            f"`data.classes` {options.classes} is not a way {kind.name} is scored: use "
            f"{' or '.join(kind.class_choices)}."
        )
