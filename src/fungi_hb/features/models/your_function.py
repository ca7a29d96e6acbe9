"""Your own model: ``backbone.model`` = ``path/to/file.py:FUNCTION`` or ``package.module:FUNCTION``.
``FUNCTION()`` is called with no arguments and returns a ``torch.nn.Module`` that maps normalised images
[B, 3, S, S] to patch tokens [B, P, D] (P = (S/p)^2, row-major), or a pair (module, patch_tokens) where
``patch_tokens(module, images)`` does. It loads its own weights; ``backbone.weights`` is not used.

The name is recorded in identities as text, with a fingerprint of the module's weights, so a support bank
and an evaluation of the same function match, and a changed model does not. Reading a bank or an index
never imports or runs anything."""

import importlib
import importlib.util
import re
import sys
from pathlib import Path

import torch
from torch import nn

from fungi_hb.errors import UserError
from fungi_hb.features.config import BackboneConfig
from fungi_hb.features.models.base import Backbone, ModelKind, register
from fungi_hb.features.own_model import own_backbone

_SPEC = re.compile(r"(?P<where>.+\.py|[A-Za-z_][\w.]*):(?P<function>[A-Za-z_]\w*)")


def _function(spec: str):
    match = _SPEC.fullmatch(spec)
    where, name = match["where"], match["function"]
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise UserError(
                f"`backbone.model` {spec}: the file {path} {'is a folder' if path.is_dir() else 'does not exist'}."
            )
        module_name = f"fungi_hb_own_model_{abs(hash(str(path.resolve())))}"
        loader_spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[module_name] = module  # dataclasses and pickling inside the file look themselves up here
        try:
            loader_spec.loader.exec_module(module)
        except Exception as exc:
            raise UserError(f"`backbone.model` {spec}: importing {path} failed: {type(exc).__name__}: {exc}") from exc
    else:
        try:
            module = importlib.import_module(where)
        except Exception as exc:
            raise UserError(f"`backbone.model` {spec}: importing {where} failed: {type(exc).__name__}: {exc}") from exc
    function = getattr(module, name, None)
    if not callable(function):
        found = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise UserError(
            f"`backbone.model` {spec}: {where} has no function {name!r} (it has: {', '.join(found[:8]) or 'none'})."
        )
    return function


@register
class YourFunction(ModelKind):
    order = 10

    def claims(self, model: str) -> bool:
        return not model.startswith(("hf-hub:", "hf_hub:")) and _SPEC.fullmatch(model) is not None

    def build(self, config: BackboneConfig, seed: int, device: torch.device) -> Backbone:
        function = _function(config.model)
        torch.manual_seed(seed)  # a function that initialises weights randomly does so from the seed
        try:
            made = function()
        except Exception as exc:  # the user's code: its own message, no traceback from us
            raise UserError(f"`backbone.model` {config.model} raised {type(exc).__name__}: {exc}") from exc
        module, patch_tokens = made if isinstance(made, tuple) and len(made) == 2 else (made, None)
        if not isinstance(module, nn.Module):
            raise UserError(
                f"`backbone.model` {config.model} returned a {type(module).__name__}, not a torch.nn.Module (or a pair "
                "(module, patch_tokens))."
            )
        return own_backbone(module.to(device), patch_tokens, config, device)
