"""The datasets this tool knows, and how the one in ``data.data_dir`` is chosen."""

from dataclasses import dataclass
from pathlib import Path

from fungi_hb.data.datasets.ade20k import Ade20k
from fungi_hb.data.datasets.base import ClassSpec, DatasetKind, Layout
from fungi_hb.data.datasets.generic import Generic
from fungi_hb.data.datasets.voc import Voc
from fungi_hb.errors import UserError

# Detection tries them in this order; `data.dataset` NAME picks one.
DATASETS: dict[str, DatasetKind] = {kind.name: kind for kind in (Voc(), Ade20k(), Generic())}


@dataclass(frozen=True)
class Dataset:
    """A dataset found on disk: where its splits are and how its masks are scored."""

    layout: Layout
    classes: ClassSpec

    @property
    def label(self) -> str:
        """A name for people: the folder's name for your own data, else the dataset's name."""
        return self.layout.root.resolve().name if self.classes.name.startswith("generic-") else self.classes.name


def open_dataset(root: Path, name: str = "auto", keep_other: bool = False) -> Dataset:
    """The dataset in ``root``: the first whose layout is there, or the one ``name`` forces."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(
            f"`data.data_dir` {root} {'is a file, not a folder' if root.exists() else 'does not exist'}. Point it "
            "at the unpacked dataset (Pascal VOC's VOCSegmentation "
            "or VOCdevkit/VOC2012, ADE20K's ADEChallengeData2016, or your own images/ masks/ classes.txt), or "
            "make a synthetic one with scripts/make_synthetic_data.py."
        )
    if name != "auto" and name not in DATASETS:
        raise UserError(f"Unknown `data.dataset` {name!r}: use auto, {', '.join(DATASETS)}.")
    kinds = [DATASETS[name]] if name != "auto" else list(DATASETS.values())
    for kind in kinds:
        layout = kind.detect(root)
        if layout is not None:
            if keep_other and kind.name != "ade20k":
                raise UserError(
                    f"`data.keep_other` applies to ADE20K only, but `data.data_dir` {root} holds {kind.name}. "
                    "Drop `data.keep_other`."
                )
            return Dataset(layout, kind.classes(layout, keep_other))
    expected = (
        "Pascal VOC (images/ + sets/, or VOCdevkit/VOC2012 with JPEGImages/), ADE20K (ADEChallengeData2016 with "
        "images/training and annotations/training) or your own (images/, masks/, classes.txt)"
    )
    forced = f"does not hold {name}" if name != "auto" else "holds none of the known layouts"
    raise UserError(f"`data.data_dir` {root} {forced}: expected {expected}. Check `data.data_dir`.")
