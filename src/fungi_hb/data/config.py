"""Which images a run reads and how, on its own (no torch) so that the flags can name it."""

from dataclasses import dataclass
from pathlib import Path

from fungi_hb.settings import Flag, non_negative_int, positive_int, setting

GROUP = "data"


def _dataset_choices() -> tuple[str, ...]:
    from fungi_hb.data.datasets.registry import dataset_names  # the registry imports this module's users

    return ("auto", *dataset_names())


@dataclass(frozen=True)
class DataConfig:
    """Which images, how they are loaded."""

    data_dir: Path = setting(
        Path("./VOCSegmentation"),
        Flag(
            "--data-dir",
            GROUP,
            "Dataset root, a folder or a .tar/.tar.gz archive of one: Pascal VOC, ADE20K, Cityscapes, COCO-Stuff, "
            "NYUv2 depth or your own layout (docs/data.md).",
            parse=Path,
            shown_default="./VOCSegmentation",
        ),
    )
    dataset: str = setting(
        "auto",
        Flag(
            "--dataset",
            GROUP,
            "Which dataset --data-dir holds; auto: detected from its folders.",
            choices=_dataset_choices,
        ),
    )
    keep_other: bool = setting(
        False,
        Flag(
            "--keep-other",
            GROUP,
            "ADE20K: score label 0 ('other') as a 151st class instead of ignoring it (the usual 150-class benchmark "
            "ignores it).",
        ),
    )
    classes: str = setting(
        "default",
        Flag(
            "--classes",
            GROUP,
            "Datasets scored in several ways: COCO-Stuff's coarse (27 supercategories, the default), things (12), "
            "stuff (15) or fine (171 classes).",
        ),
    )
    num_train_samples: int | None = setting(
        None,
        Flag(
            "--num-train-samples",
            GROUP,
            "Random subset of N training images, drawn from --seed alone (83 for the data-efficient runs).",
            parse=positive_int,
            shown_default="all",
        ),
    )
    train_list: Path | None = setting(
        None,
        Flag("--train-list", GROUP, "File of training ids (one per line).", parse=Path, shown_default="the dataset's"),
    )
    val_list: Path | None = setting(
        None,
        Flag("--val-list", GROUP, "File of validation ids (one per line).", parse=Path, shown_default="the dataset's"),
    )
    batch_size: int = setting(4, Flag("--batch-size", GROUP, "Images per batch.", parse=positive_int))
    num_workers: int = setting(2, Flag("--num-workers", GROUP, "Data loader worker processes.", parse=non_negative_int))
