"""Per-token gradients of one Linear layer, taken with hooks scoped to one call."""

import difflib
from contextlib import contextmanager
from typing import Callable, Iterator

import torch
from torch import nn


def concrete_path(model: nn.Module, path: str) -> str:
    """``path`` with each negative index counted from the end of its module list, as in Python:
    ``backbone.blocks.-1.attn.proj`` is ``backbone.blocks.11.attn.proj`` in a 12-block ViT and
    ``backbone.blocks.23.attn.proj`` in a 24-block one; in a Sequential of named layers the index becomes the
    name (torchvision's ``encoder.layers.-1`` is ``encoder.layers.encoder_layer_11``). Other paths come back
    unchanged."""
    parts, module = path.split("."), model
    for i, part in enumerate(parts):
        if module is None:
            break
        if part.startswith("-") and part[1:].isdigit() and isinstance(module, (nn.ModuleList, nn.Sequential)):
            names = list(module._modules)
            if not 0 < int(part[1:]) <= len(names):
                where, count = ".".join(parts[:i]), len(names)
                raise LookupError(
                    f"layer {path!r}: {where} has {count} entries, numbered 0 to {count - 1} or -1 to -{count}"
                )
            parts[i] = names[int(part)]
        module = getattr(module, parts[i], None)
    return ".".join(parts)


def resolve_linear(model: nn.Module, path: str) -> nn.Linear:
    """The ``nn.Linear`` at dotted ``path`` (e.g. ``backbone.blocks.11.attn.proj``, or counted from the end:
    ``backbone.blocks.-1.attn.proj``, see ``concrete_path``).

    A wrong path raises ``LookupError`` naming the closest valid Linear layers.
    """
    path = concrete_path(model, path)
    linears = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    try:
        module = model.get_submodule(path)
    except AttributeError:
        module = None
    if not isinstance(module, nn.Linear):
        close = difflib.get_close_matches(path, linears, n=5, cutoff=0.0)
        what = "is not a Linear layer" if module is not None else "does not exist"
        raise LookupError(
            f"layer {path!r} {what} in this model; closest Linear layers: {', '.join(close)} "
            "(paths start with 'backbone.' as in the published commands)"
        )
    return module


class LayerRecord:
    """What one forward pass through the hooked layer left: its input and a grad-enabled output."""

    def __init__(self) -> None:
        self.inputs: torch.Tensor | None = None  # [B, T, in] layer input (detached)
        self.outputs: torch.Tensor | None = None  # [B, T, out] layer output, a leaf that requires grad


@contextmanager
def record_layer(layer: nn.Linear) -> Iterator[LayerRecord]:
    """Within the block, a forward pass stores the layer's input and replaces its output by a leaf
    that requires grad: ``torch.autograd.grad(loss, record.outputs)`` then gives d_t = dLoss/dy_t, and
    nothing below the layer takes part in the backward pass. The hook is removed on exit."""
    record = LayerRecord()

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> torch.Tensor:
        record.inputs = inputs[0].detach()
        record.outputs = output.detach().requires_grad_(True)
        return record.outputs

    handle = layer.register_forward_hook(hook)
    try:
        yield record
    finally:
        handle.remove()


def token_gradient_width(layer: nn.Linear) -> int:
    """Length of one flattened per-token gradient: out * (in + 1) (the bias as last column)."""
    return layer.out_features * (layer.in_features + 1)


def linears_called(model: nn.Module, run: Callable[[], object]) -> list[str]:
    """The names of ``model``'s Linear layers that are called as modules while ``run()`` runs, in call order
    (a layer used only through its weight, as ``torch.nn.MultiheadAttention`` uses ``out_proj``, is not)."""
    called: list[str] = []
    handles = [
        module.register_forward_hook(lambda *_, name=name: called.append(name))
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear)
    ]
    try:
        with torch.no_grad():
            run()
    finally:
        for handle in handles:
            handle.remove()
    return list(dict.fromkeys(called))
