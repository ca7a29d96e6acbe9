"""Dense FUNGI features: per-patch SimCLR gradients, randomly projected (METHOD section 6)."""

from .features import FungiOutput, fungi_features
from .model import FungiModel

__all__ = ["FungiModel", "FungiOutput", "fungi_features"]
