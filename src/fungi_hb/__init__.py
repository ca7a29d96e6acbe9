"""Dense FUNGI features and HummingBird in-context scene understanding.

``fungi_hb.evaluate(model, data_dir, **settings)`` evaluates any model in one call (``fungi_hb.api``); the two
scripts, create_memory_bank.py and eval_gradients.py, run the published experiments. ``UserError`` is the
one error type of bad input. Names load on first use: ``import fungi_hb`` does not import torch.
"""

from fungi_hb.lazy import names_from

__version__ = "0.2.0"

_HOMES = {"evaluate": "api.evaluate", "UserError": "errors"}
__all__ = ["UserError", "evaluate"]

__getattr__ = names_from(__name__, _HOMES)
