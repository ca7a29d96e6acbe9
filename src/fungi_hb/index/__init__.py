"""Nearest-neighbour indexes over a memory bank, behind one interface (``NeighborIndex``).

A backend is one file with a ``NeighborIndex`` subclass plus one line in ``registry.BACKENDS``.
"""

from .base import IndexConfig, NeighborIndex
from .registry import BACKENDS, build_index, load_index, resolve_backend, save_index

__all__ = ["BACKENDS", "IndexConfig", "NeighborIndex", "build_index", "load_index", "resolve_backend", "save_index"]
