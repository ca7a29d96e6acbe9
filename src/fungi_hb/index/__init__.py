"""Nearest-neighbour indexes over a memory bank, behind one interface (``NeighborIndex``).

A backend is one file with a ``NeighborIndex`` subclass plus one line in ``registry.BACKENDS``.
"""

from fungi_hb.index.base import IndexConfig, NeighborIndex
from fungi_hb.index.registry import (
    BACKENDS,
    build_index,
    build_index_folder,
    index_belongs,
    load_index,
    read_index_meta,
    resolve_backend,
    save_index,
)
from fungi_hb.index.source import FeatureSource, FileSource, TensorSource

__all__ = [
    "BACKENDS",
    "FeatureSource",
    "FileSource",
    "IndexConfig",
    "NeighborIndex",
    "TensorSource",
    "build_index",
    "build_index_folder",
    "index_belongs",
    "load_index",
    "read_index_meta",
    "resolve_backend",
    "save_index",
]
