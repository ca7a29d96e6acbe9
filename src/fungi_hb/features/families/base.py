"""What a backbone family declares, and the registry families put themselves in (every module of
``features/families/``). Torch-free: the hooks that touch tensors import what they need when called."""

import importlib
import pkgutil
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

POSITION_RULES = ("dino", "dinov2-reg", "rope", "timm")
_REGISTERED: dict[str, "Family"] = {}


@dataclass(frozen=True)
class HubEntry:
    """How a hub name is built with timm and where its official weights are found."""

    family: str  # the family's name: "DINO", "DINOv2", "DINOv2+registers", "DINOv3"
    architecture: str  # timm architecture with the family's geometry
    patch_size: int  # p
    positions: str  # one of POSITION_RULES
    file_glob: str  # the official file's name in the torch hub cache (a glob: DINOv3 names end in a hash)
    url: str | None  # the official download; None where it is licence-gated (DINOv3)
    timm_weights: str | None = None  # timm's tag for the same weights (Hugging Face hub or its cache)


class Family:
    """A family of backbones: its hub names and its ways. The hooks' defaults are plain timm ViTs'."""

    name: ClassVar[str]
    order: ClassVar[int] = 50  # file detection asks families in this order
    claims_timm_names: ClassVar[bool] = True  # timm names of its architectures count as this family
    licence_note: ClassVar[str | None] = None  # where weights are given out, when no download is public

    def hub(self) -> dict[str, HubEntry]:
        """Its hub names."""
        return {}

    def recognises_file(self, state: dict[str, Any]) -> bool:
        """Whether a checkpoint's own keys give it away as a file of this family."""
        return False

    def check_file(self, state: dict[str, Any], source: str, model: str) -> None:
        """Raise a UserError naming the layout found and the one expected, for a file of this family's
        names laid out otherwise (nothing by default)."""

    def architecture(self, architecture: str, state: dict[str, Any] | None) -> str:
        """The timm architecture to build for ``state`` (a variant of the hub's, where the file needs one)."""
        return architecture

    def before_filter(self, backbone: Any, state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the state as timm's checkpoint filter should see it, the family's own keys kept aside for
        ``after_load``)."""
        return state, {}

    def extras_mismatch(self, backbone: Any, extras: dict[str, Any]) -> tuple[list[str], list[str]]:
        """(keys of ``extras`` the backbone has no place for, keys whose shape differs from its place)."""
        return [], []

    def after_load(self, backbone: Any, extras: dict[str, Any]) -> None:
        """What the family sets on the loaded backbone from ``extras``."""


def register(cls: type[Family]) -> type[Family]:
    """Class decorator: make ``cls`` a backbone family."""
    _REGISTERED[cls.name] = cls()
    return cls


def families() -> list[Family]:
    """Every family, each module of ``features/families/`` imported once, in detection order."""
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if module.name != "base":
            importlib.import_module(f"{__package__}.{module.name}")
    return sorted(_REGISTERED.values(), key=lambda family: (family.order, family.name))


def hub_backbones() -> dict[str, HubEntry]:
    """Every hub name of every family."""
    return {name: entry for family in families() for name, entry in family.hub().items()}


def known_models() -> list[str]:
    return sorted(hub_backbones())


def entry_of(model: str) -> HubEntry | None:
    """The entry of a hub name, or of a timm name of an architecture whose family claims timm names (DINO's
    architectures are timm's plain ViTs, whose weights under timm names are timm's); None otherwise."""
    hub = hub_backbones()
    if model in hub:
        return hub[model]
    architecture = model.split(".")[0].removesuffix("_qkvb")
    for family in families():
        if family.claims_timm_names:
            for entry in family.hub().values():
                if entry.architecture == architecture:
                    return entry
    return None


def family_of(model: str) -> Family | None:
    """The family of ``model`` (see ``entry_of``); None for other models."""
    entry = entry_of(model)
    return next((family for family in families() if family.name == entry.family), None) if entry else None


def positions_rule(model: str) -> str:
    """How ``model`` resamples its position embeddings: its family's own rule, else timm's."""
    entry = entry_of(model)
    return entry.positions if entry is not None else "timm"


def patch_size_of(model: str) -> int | None:
    """The patch size of a hub name, or of a timm ViT named ``..._patch<p>...``; None when the name says nothing."""
    entry = hub_backbones().get(model)
    if entry is not None:
        return entry.patch_size
    found = re.search(r"patch(\d+)", model)
    return int(found.group(1)) if found else None


def file_family(state: dict[str, Any]) -> Family | None:
    """The family whose files have ``state``'s keys (None when no family's keys show)."""
    return next((family for family in families() if family.recognises_file(state)), None)
