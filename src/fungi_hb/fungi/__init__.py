"""Dense FUNGI features: per-patch SimCLR gradients, randomly projected (METHOD section 6). The names
below load on first use, so that ``fungi.config`` can be read without torch."""

import importlib

_HOMES = {
    "FungiConfig": "config",
    "NeighborLayout": "config",
    "FungiExtractor": "extractor",
    "NeighborFn": "features",
    "fungi_features": "features",
    "FungiModel": "model",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
