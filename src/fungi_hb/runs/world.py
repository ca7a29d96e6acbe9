"""Which process this is among the processes of a job (no torch: the work folder and the flags use it)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class World:
    """This process's place among the processes of a job."""

    rank: int = 0  # global rank
    size: int = 1  # number of processes
    local_rank: int = 0  # rank on this node (selects the GPU)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1
