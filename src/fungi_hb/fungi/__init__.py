"""Dense FUNGI features: per-patch SimCLR gradients, randomly projected (METHOD section 6)."""

from fungi_hb.fungi.config import FungiConfig
from fungi_hb.fungi.extractor import FungiExtractor
from fungi_hb.fungi.features import NeighborFn, fungi_features
from fungi_hb.fungi.model import FungiModel
from fungi_hb.fungi.negatives import NeighborLayout

__all__ = ["FungiConfig", "FungiExtractor", "FungiModel", "NeighborFn", "NeighborLayout", "fungi_features"]
