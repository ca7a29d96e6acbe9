"""Where an index reads the rows it indexes from: a tensor (in RAM or mapped from a file), a tensor file
read in chunks, or rows made on the fly (benchmarks). Indexes never need the whole memory as one array."""

from pathlib import Path
from typing import Iterator, Protocol

import torch

from fungi_hb.storage.matrix_file import open_matrix, read_rows


class FeatureSource(Protocol):
    rows: int  # M
    dim: int  # D
    tensor: torch.Tensor  # [M, D], possibly mapped from a file (for indexes that search the rows themselves)

    def chunks(self, chunk_rows: int) -> Iterator[torch.Tensor]:
        """The rows in order, [n, D] float32 at a time."""
        ...

    def take(self, ids: torch.Tensor) -> torch.Tensor:
        """Rows ``ids`` [n] (sorted) as [n, D] float32."""
        ...


class TensorSource:
    """Rows of a [M, D] tensor (in RAM, or mapped from a file)."""

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor
        self.rows, self.dim = tensor.shape

    def chunks(self, chunk_rows: int) -> Iterator[torch.Tensor]:
        for start in range(0, self.rows, chunk_rows):
            yield self.tensor[start : start + chunk_rows].float()

    def take(self, ids: torch.Tensor) -> torch.Tensor:
        return self.tensor[ids].float()


class FileSource:
    """Rows of a tensor file: chunks by plain reads (held by the page cache, not the process), single
    rows through a mapping."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.tensor = open_matrix(self.path)  # [M, D] mapped, nothing read yet
        self.rows, self.dim = self.tensor.shape

    def chunks(self, chunk_rows: int) -> Iterator[torch.Tensor]:
        return read_rows(self.path, chunk_rows)

    def take(self, ids: torch.Tensor) -> torch.Tensor:
        return self.tensor[ids].float()
