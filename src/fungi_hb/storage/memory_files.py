"""Memory banks on disk: ``features.pth`` [M, D] and ``labels.pth`` [M, C] as plain float32 tensors (the
published format, so banks of the published code load too) and a sidecar ``<features stem>.meta.json``
that holds the bank's identity."""

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch

from .. import __version__
from ..errors import UserError
from ..identity import MemoryIdentity, identity_json
from ..memory.types import Memory
from .atomic import save_json
from .torch_files import read_matrix, save_tensor

logger = logging.getLogger(__name__)

META_FORMAT = "fungi-hb memory bank 2"
REBUILD = "Rebuild it with create_memory_bank.py."


@dataclass(frozen=True)
class BankMeta:
    """What the sidecar says about a bank."""

    memory_id: str  # unique per build; the index folder names it
    identity: MemoryIdentity
    rows: int  # M
    dim: int  # D
    num_classes: int  # C
    info: dict = field(default_factory=dict)  # facts that do not change the features (data folder, counts)

    def to_json(self) -> dict:
        return {
            "format": META_FORMAT,
            "memory_id": self.memory_id,
            "identity": identity_json(self.identity),
            "rows": self.rows,
            "dim": self.dim,
            "num_classes": self.num_classes,
            "info": self.info,
            "package_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }


def meta_path(features_path: Path) -> Path:
    features_path = Path(features_path)
    return features_path.with_name(features_path.stem + ".meta.json")


def new_memory_id() -> str:
    return uuid.uuid4().hex


def save_memory(memory: Memory, features_path: Path, labels_path: Path) -> None:
    """Write features and labels. Any older sidecar is removed first: ``write_meta`` writes the new one
    last, once everything that belongs to the bank (its index too) is complete."""
    meta_path(features_path).unlink(missing_ok=True)
    save_tensor(memory.features.contiguous(), Path(features_path))
    save_tensor(memory.labels.contiguous(), Path(labels_path))


def write_meta(features_path: Path, meta: BankMeta) -> None:
    save_json(meta.to_json(), meta_path(features_path))


def read_meta(features_path: Path) -> BankMeta | None:
    """The bank's sidecar, or None when there is none (a bank of the published code)."""
    sidecar = meta_path(features_path)
    if not sidecar.is_file():
        logger.warning(
            "%s has no metadata sidecar (%s; made by the published code?): only sizes are checked.",
            features_path,
            sidecar.name,
        )
        return None
    try:
        data = json.loads(sidecar.read_text())
        if data.get("format") != META_FORMAT:
            raise UserError(
                f"{sidecar} was written by an earlier version of this tool (before feature identities). {REBUILD}"
            )
        return BankMeta(
            memory_id=data["memory_id"],
            identity=MemoryIdentity.from_json(data["identity"]),
            rows=data["rows"],
            dim=data["dim"],
            num_classes=data["num_classes"],
            info=data.get("info", {}),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"The metadata file {sidecar} is damaged ({exc}). {REBUILD}") from exc


def load_features(features_path: Path) -> torch.Tensor:
    """[M, D] float32 features."""
    fix = "Create it with create_memory_bank.py first."
    return read_matrix(features_path, "memory bank", fix).float()


def load_memory(features_path: Path, labels_path: Path) -> Memory:
    features = load_features(features_path)
    labels = read_matrix(labels_path, "memory bank labels", REBUILD).float()
    if labels.shape[0] != features.shape[0]:
        raise UserError(f"{features_path} has {features.shape[0]} rows but {labels_path} has {labels.shape[0]}.")
    return Memory(features, labels)
