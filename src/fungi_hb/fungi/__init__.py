"""Dense FUNGI features: per-patch SimCLR gradients, randomly projected (METHOD section 6). The names
below load on first use, so that ``fungi.config`` can be read without torch."""

from fungi_hb.lazy import names_from

_HOMES = {
    "FungiConfig": "config",
    "NeighborLayout": "config",
    "FungiExtractor": "extractor",
    "NeighborFn": "features",
    "fungi_features": "features",
    "FungiModel": "model",
}

__all__ = sorted(_HOMES)

__getattr__ = names_from(__name__, _HOMES)
