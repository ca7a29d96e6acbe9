"""Large 2-D tensors in torch's file format without holding them in RAM.

``write_matrix`` lays out a ``torch.save`` file of the final shape with its data left empty (torch's
``skip_data``), then writes the rows chunk by chunk at their offsets: the file loads with plain
``torch.load`` (the published format), and the writer's memory is one chunk. ``read_rows`` streams row
ranges back through ordinary reads (the page cache, not the process, holds them); ``open_matrix`` maps
the file for random access.
"""

import os
import struct
import zipfile
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.serialization import skip_data

from fungi_hb.storage.atomic import atomic_path
from fungi_hb.storage.torch_files import write_torch

_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")  # a zip entry's local header (30 bytes)


def _data_record(path: Path) -> tuple[int, int]:
    """(offset, size) of the one storage record of a single-tensor torch file."""
    with zipfile.ZipFile(path) as archive:
        records = [info for info in archive.infolist() if "/data/" in info.filename and "/.data/" not in info.filename]
        if len(records) != 1 or records[0].compress_type != zipfile.ZIP_STORED:
            raise ValueError(f"{path} does not hold exactly one uncompressed tensor")
        record = records[0]
    with open(path, "rb") as handle:
        handle.seek(record.header_offset)
        header = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
    name_length, extra_length = header[9], header[10]
    return record.header_offset + _LOCAL_HEADER.size + name_length + extra_length, record.file_size


def write_matrix(path: Path, rows: int, cols: int, dtype: torch.dtype, chunks: Iterable[torch.Tensor]) -> None:
    """Write the [rows, cols] tensor made of ``chunks`` (row blocks, in order) to ``path``, atomically.

    Raises ``ValueError`` if the chunks do not add up to ``rows`` rows of ``cols`` columns.
    """
    itemsize = torch.empty((), dtype=dtype).element_size()
    with atomic_path(Path(path)) as tmp:
        with FakeTensorMode():
            skeleton = torch.empty(rows, cols, dtype=dtype)
        with skip_data(materialize_fake_tensors=True):
            write_torch(skeleton, tmp)
        offset, size = _data_record(tmp)
        if size != rows * cols * itemsize:
            raise ValueError(f"unexpected record size {size} for [{rows}, {cols}] {dtype}")
        written = 0
        with open(tmp, "r+b") as handle:
            for chunk in chunks:
                if chunk.ndim != 2 or chunk.shape[1] != cols or written + chunk.shape[0] > rows:
                    raise ValueError(f"chunk of shape {tuple(chunk.shape)} after {written} of {rows} rows x {cols}")
                data = chunk.detach().to("cpu", dtype).contiguous().numpy()
                os.pwrite(handle.fileno(), memoryview(data).cast("B"), offset + written * cols * itemsize)
                written += chunk.shape[0]
            if written != rows:
                raise ValueError(f"{written} rows written, {rows} expected")
            handle.flush()
            os.fsync(handle.fileno())


def read_rows(path: Path, chunk_rows: int, dtype: torch.dtype = torch.float32) -> Iterator[torch.Tensor]:
    """The rows of a 2-D tensor file, ``chunk_rows`` at a time (each chunk a fresh [n, D] tensor)."""
    header = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    rows, cols, stored = header.shape[0], header.shape[1], header.dtype
    del header
    offset, _ = _data_record(Path(path))
    itemsize = torch.empty((), dtype=stored).element_size()
    numpy_dtype = torch.empty((), dtype=stored).numpy().dtype
    with open(path, "rb") as handle:
        for start in range(0, rows, chunk_rows):
            count = min(chunk_rows, rows - start)
            buffer = os.pread(handle.fileno(), count * cols * itemsize, offset + start * cols * itemsize)
            array = np.frombuffer(buffer, dtype=numpy_dtype).reshape(count, cols)
            yield torch.from_numpy(array.copy()).to(dtype)


def open_matrix(path: Path) -> torch.Tensor:
    """The tensor of ``path`` mapped from disk (pages are read when rows are used)."""
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
