"""The data of a run: the dataset found in `data.data_dir`, its training and validation samples, and the check
of every file before the long part (by the first process; the others wait for it)."""

import logging
from dataclasses import dataclass

import torch

from fungi_hb.data.checks import check_samples
from fungi_hb.data.datasets.base import ClassSpec
from fungi_hb.data.datasets.registry import Dataset, open_dataset
from fungi_hb.data.samples import DataConfig, Sample, train_samples, val_samples
from fungi_hb.log import count
from fungi_hb.runs import distributed
from fungi_hb.runs.distributed import World

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunData:
    dataset: Dataset
    train: list[Sample]
    val: list[Sample]  # empty when the job has no validation

    @property
    def classes(self) -> ClassSpec:
        return self.dataset.classes

    def lookup(self) -> torch.Tensor:
        """[256] mask value -> class id (255 ignore, -1 not allowed)."""
        return torch.from_numpy(self.classes.lookup()).long()


def prepare_data(config: DataConfig, seed: int, validation: bool, world: World) -> RunData:
    dataset = open_dataset(config.data_dir, config.dataset, config.keep_other)
    train = train_samples(dataset, config, seed)
    val = val_samples(dataset, config) if validation else []
    names = dataset.classes.class_names
    logger.info(
        "Data: %s in %s, %s (%s%s); %s%s",
        dataset.layout.kind,
        dataset.layout.root,
        count(len(names), "class", "classes"),
        ", ".join(names[:8]),
        ", ..." if len(names) > 8 else "",
        count(len(train), "training image"),
        f" and {count(len(val), 'validation image')}" if validation else "",
    )
    if world.is_main:
        check_samples(train, dataset.classes, "training", config.num_workers)
        if val:
            check_samples(val, dataset.classes, "validation", config.num_workers)
    distributed.barrier(world)
    return RunData(dataset, train, val)
