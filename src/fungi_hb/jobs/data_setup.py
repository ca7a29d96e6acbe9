"""The data of a run: the dataset found in `data.data_dir`, its training and validation samples, and the check
of every file before the long part (by the first process; the others wait for it)."""

import logging
from dataclasses import dataclass

from fungi_hb.data.checks import check_samples
from fungi_hb.data.config import DataConfig
from fungi_hb.data.datasets.base import ClassOptions, ClassSpec
from fungi_hb.data.datasets.registry import Dataset, open_dataset
from fungi_hb.data.samples import Sample, train_samples, val_samples
from fungi_hb.data.targets import TargetReader, reader_for
from fungi_hb.log import count
from fungi_hb.runs import distributed
from fungi_hb.runs.distributed import World
from fungi_hb.tasks.base import Task, tasks

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunData:
    dataset: Dataset
    train: list[Sample]
    val: list[Sample]  # empty when the job has no validation

    @property
    def targets(self) -> TargetReader:
        """How the samples' masks or depth maps are read."""
        return reader_for(self.dataset.targets)

    def task(self) -> Task:
        """The dataset's task, over its targets."""
        return tasks()[self.dataset.kind.task](self.dataset.targets)


def _what(dataset: Dataset) -> str:
    if not isinstance(dataset.targets, ClassSpec):
        return "depth"
    names = dataset.targets.class_names
    return f"{count(len(names), 'class', 'classes')} ({', '.join(names[:8])}{', ...' if len(names) > 8 else ''})"


def prepare_data(config: DataConfig, seed: int, validation: bool, world: World) -> RunData:
    options = ClassOptions(keep_other=config.keep_other, classes=config.classes)
    dataset = open_dataset(config.data_dir, config.dataset, options)
    train = train_samples(dataset, config, seed)
    val = val_samples(dataset, config) if validation else []
    logger.info(
        "Data: %s in %s, %s; %s%s",
        dataset.layout.kind,
        dataset.layout.tree.label,
        _what(dataset),
        count(len(train), "training image"),
        f" and {count(len(val), 'validation image')}" if validation else "",
    )
    if world.is_main:
        check_samples(train, dataset.targets, "training", config.num_workers)
        if val:
            check_samples(val, dataset.targets, "validation", config.num_workers)
    distributed.barrier(world)
    return RunData(dataset, train, val)
