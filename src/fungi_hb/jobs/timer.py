"""Wall-clock seconds of the named stages of a job, logged as they end."""

import logging
import time
from contextlib import contextmanager
from typing import Iterator

from fungi_hb.system import now

logger = logging.getLogger(__name__)


class StageTimer:
    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.started = now()  # the wall-clock start, UTC, for provenance
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 3)
        logger.info("%s took %.1f s", name, self.seconds[name])

    def summary(self) -> dict[str, float]:
        """Every stage and the total since the timer was made."""
        return dict(self.seconds, total=round(time.perf_counter() - self.start, 3))
