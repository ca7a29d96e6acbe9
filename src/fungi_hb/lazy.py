"""Package names that load on first use (PEP 562), so that a package's light modules (its settings) can
be imported without its heavy ones (torch)."""

import importlib
from typing import Any, Callable


def names_from(package: str, homes: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: each name in ``homes`` is taken from its submodule."""

    def load(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{homes[name]}"), name)

    return load
