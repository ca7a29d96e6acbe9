"""Dense FUNGI features: per-patch SimCLR gradients, randomly projected (METHOD section 6)."""

from .config import FungiConfig
from .extractor import FungiExtractor
from .features import NeighborFn, fungi_features
from .model import FungiModel
from .negatives import NeighborLayout

__all__ = ["FungiConfig", "FungiExtractor", "FungiModel", "NeighborFn", "NeighborLayout", "fungi_features"]
