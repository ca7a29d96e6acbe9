"""Memory banks on disk, committed as a unit.

A bank is ``features.pth`` [M, D] and ``labels.pth`` [M, W] (plain float32 tensors: the published format,
so banks of the published code load too), for a support bank its index folder, and a sidecar
``<features stem>.meta.json`` written last. The sidecar holds the bank's identity and a fingerprint of
every part, so a later reader knows the parts belong together. Parts of the published code's banks carry
no metadata of ours at all; a bank of ours with a part missing is refused, never taken for one of those.
The parts are saved as one ``storage.transaction``, whose journal is ``<features stem>.commit.json``.
"""

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import ContextManager

from fungi_hb import __version__
from fungi_hb.errors import UserError
from fungi_hb.identity import MemoryIdentity, identity_json
from fungi_hb.index.registry import INDEX_META, index_belongs, index_memory_id
from fungi_hb.storage.atomic import save_json
from fungi_hb.storage.fingerprint import fingerprints
from fungi_hb.storage.transaction import check_journal, pending, staged_commit

logger = logging.getLogger(__name__)

META_FORMAT = "fungi-hb memory bank 5"


@dataclass(frozen=True)
class BankPaths:
    """Where the parts of one bank live."""

    features: Path  # [M, D] float32
    labels: Path | None  # [M, W] float32 (None: wherever the sidecar says, for readers that skip labels)
    index: Path | None = None  # index folder (support banks); None for an evaluation memory

    @property
    def meta(self) -> Path:
        return self.features.with_name(self.features.stem + ".meta.json")

    @property
    def journal(self) -> Path:
        return self.features.with_name(self.features.stem + ".commit.json")

    def parts(self) -> dict[str, Path]:
        """Every part but the sidecar, by role."""
        parts = {"features": Path(self.features)}
        if self.labels is not None:
            parts["labels"] = Path(self.labels)
        if self.index is not None:
            parts["index"] = Path(self.index)
        return parts

    @classmethod
    def in_folder(cls, folder: Path) -> "BankPaths":
        """An evaluation memory: features.pth and labels.pth in ``folder``."""
        return cls(Path(folder) / "features.pth", Path(folder) / "labels.pth")


@dataclass(frozen=True)
class BankMeta:
    """What the sidecar says about a bank."""

    memory_id: str  # unique per build; the index folder names it
    identity: MemoryIdentity
    rows: int  # M
    dim: int  # D
    label_width: int  # W: classes (segmentation), or depth and its share
    info: dict = field(default_factory=dict)  # facts that do not change the features (data folder, counts)
    parts: dict = field(default_factory=dict)  # role -> {"name": path relative to the sidecar, "fingerprints"}

    def to_json(self) -> dict:
        return {
            "format": META_FORMAT,
            "memory_id": self.memory_id,
            "identity": identity_json(self.identity),
            "rows": self.rows,
            "dim": self.dim,
            "label_width": self.label_width,
            "info": self.info,
            "parts": self.parts,
            "package_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }

    @classmethod
    def from_json(cls, data: dict) -> "BankMeta":
        return cls(
            memory_id=data["memory_id"],
            identity=MemoryIdentity.from_json(data["identity"]),
            rows=int(data["rows"]),
            dim=int(data["dim"]),
            label_width=int(data["label_width"]),
            info=data.get("info", {}),
            parts=data.get("parts", {}),
        )


def new_memory_id() -> str:
    return uuid.uuid4().hex


def _relative(path: Path, base: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(base.resolve()))
    except ValueError:
        return str(Path(path).resolve())


def bank_transaction(paths: BankPaths) -> ContextManager[dict[str, Path]]:
    """Save a bank as a unit: yields staged paths for every part and for the sidecar ("meta"), which the
    caller writes (the sidecar last, with ``write_sidecar``); see ``storage.transaction.staged_commit``."""
    return staged_commit({**paths.parts(), "meta": paths.meta}, paths.journal)


def check_bank_journal(paths: BankPaths) -> None:
    """Before a writer's long part: an interrupted save of this bank, if any, is one it can finish (raises
    ``UserError`` for a damaged or foreign journal)."""
    check_journal(paths.journal, [*paths.parts().values(), paths.meta])


def write_sidecar(paths: BankPaths, staged: dict[str, Path], meta: BankMeta) -> BankMeta:
    """Write the staged sidecar, fingerprinting the staged parts; returns the meta as written."""
    base = paths.meta.parent
    parts = {
        role: {"name": _relative(final, base), "fingerprints": fingerprints(staged[role])}
        for role, final in paths.parts().items()
    }
    meta = BankMeta(meta.memory_id, meta.identity, meta.rows, meta.dim, meta.label_width, meta.info, parts)
    save_json(meta.to_json(), staged["meta"])
    return meta


def _damaged(what: Path, why: str, fix: str) -> UserError:
    return UserError(f"{what} is incomplete or damaged ({why}). {fix}")


def read_bank(paths: BankPaths, fix: str, allow_published: bool) -> BankMeta | None:
    """Check that a bank on disk is whole and return its sidecar; None for a bank of the published code.

    Args:
        paths: the parts the caller will read (``labels``/``index`` from the sidecar when not given).
        fix: how to rebuild it, for messages.
        allow_published: accept a bank with no metadata of ours anywhere (the published code's).
    Raises:
        UserError naming the file when a part is missing, damaged or from another build.
    """
    if pending(paths.journal):
        raise UserError(
            f"The memory bank {paths.features} was being saved when a run stopped ({paths.journal.name} is there), "
            "so it may be half old, half new. Rerun the command that saves it: it finishes the save."
        )
    if not Path(paths.features).is_file():
        what = "is a folder" if Path(paths.features).is_dir() else "does not exist"
        raise UserError(f"The memory bank {paths.features} {what}. {fix}")
    if not paths.meta.is_file():
        ours = paths.index is not None and (Path(paths.index) / INDEX_META).is_file()
        if ours or not allow_published:
            raise _damaged(paths.features, f"its metadata file {paths.meta.name} is missing", fix)
        logger.warning(
            "%s has no metadata (%s) and its index none either: taken for a bank of the published code (only its "
            "sizes can be checked).",
            paths.features,
            paths.meta.name,
        )
        return None
    try:
        data = json.loads(paths.meta.read_text())
        if data.get("format") != META_FORMAT:
            raise ValueError("written by an earlier version of this tool, or not a bank's metadata")
        meta = BankMeta.from_json(data)
        for role, part in meta.parts.items():
            if not (isinstance(part.get("name"), str) and isinstance(part.get("fingerprints"), dict)):
                raise ValueError(f"its entry for the {role} lacks a name or fingerprints")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _damaged(paths.meta, str(exc) or type(exc).__name__, fix) from exc
    base = paths.meta.parent
    for role, part in meta.parts.items():
        location = Path(part["name"]) if Path(part["name"]).is_absolute() else base / part["name"]
        given = paths.parts().get(role)
        if given is not None and Path(given).resolve() != location.resolve():
            location = Path(given)  # the caller names the part (e.g. a moved index folder)
        if not location.exists():
            raise _damaged(paths.features, f"its {role} {location} is missing", fix)
        if role == "index" and index_memory_id(location) is None:
            empty = location.is_dir() and not any(location.iterdir())
            state = "is empty" if empty else f"lacks a readable {INDEX_META}"
            raise _damaged(location, f"the index folder {state}: its build was stopped or its files were removed", fix)
        if role == "index" and not index_belongs(location, meta.memory_id):
            raise UserError(
                f"The index {location} was not built from {paths.features} (it belongs to another bank). {fix}"
            )
        if fingerprints(location) != part["fingerprints"]:
            raise _damaged(location, f"it is not the {role} this bank was saved with", fix)
    return meta
