"""Preparing a dataset from the files its authors release, one module per dataset: each defines
``add_arguments(parser)``, ``prepare(args) -> Path`` (the folder to pass as `data.data_dir`) and
``WHERE_TO_GET`` (where a user downloads each file: nothing is ever downloaded here).
``scripts/prepare_data.py`` offers every module of this folder as a subcommand.

Every preparation checks the archives it is given against their published checksums before reading them
(naming a wrong file), writes each output file atomically, and is safe to rerun: files already complete are
kept, a stopped run is finished.
"""

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType


def preparations() -> dict[str, ModuleType]:
    """Every preparation module by name (the subcommands of scripts/prepare_data.py)."""
    folder = Path(__file__).parent
    modules = [m.name for m in pkgutil.iter_modules([str(folder)]) if not m.name.startswith("_")]  # _common: shared
    return {name: importlib.import_module(f"{__name__}.{name}") for name in modules}
