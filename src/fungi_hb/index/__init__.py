"""Nearest-neighbour indexes over a memory bank, behind one interface (``NeighborIndex``).

A backend is one module in ``index/backends/`` (see ``index.base.register``). The names below load on first
use, so that ``index.config`` can be read without torch.
"""

from fungi_hb.lazy import names_from

_HOMES = {
    "IndexConfig": "config",
    "NeighborIndex": "base",
    "backend": "registry",
    "backend_classes": "registry",
    "build_index": "registry",
    "build_index_folder": "registry",
    "index_belongs": "registry",
    "load_index": "registry",
    "read_index_meta": "registry",
    "resolve_backend": "registry",
    "save_index": "registry",
    "FeatureSource": "source",
    "FileSource": "source",
    "TensorSource": "source",
}

__all__ = sorted(_HOMES)

__getattr__ = names_from(__name__, _HOMES)
