"""Checkpoint files to a backbone's weights: reading them (tensors only), finding a hub name's official
weights (the torch hub cache, timm's copy in the Hugging Face cache, the official download, timm's copy on
the Hugging Face hub),
and fitting any of the layouts in use to the timm model: the family's own position-embedding rule first,
then timm's checkpoint filter of the model's module, which knows the official DINOv2/DINOv3, CLIP and
other layouts."""

import logging
import socket
import sys
from pathlib import Path

import timm
import torch
from torch import nn

from fungi_hb.errors import UserError
from fungi_hb.features.config import BackboneConfig
from fungi_hb.features.families import Family, HubEntry, entry_of, family_of, file_family, hub_backbones
from fungi_hb.features.pos_embed import interpolate_pos_embed, prefix_positions
from fungi_hb.storage.torch_files import read_torch_file

logger = logging.getLogger(__name__)


def read_checkpoint(path: Path) -> object:
    """A ``.safetensors`` file, or a torch file read as tensors only (no arbitrary pickled code; DINO's
    full checkpoints also hold an argparse Namespace)."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise UserError(f"The checkpoint {path} cannot be read ({exc}). Download it again.") from exc
    return read_torch_file(
        path, "checkpoint", "Download it again, or pass another `backbone.weights`.", allow_namespace=True
    )


def extract_state_dict(checkpoint: object) -> dict[str, torch.Tensor]:
    """The backbone's state dict from the checkpoint layouts in use.

    Accepts a plain state dict, DINO's and DINOv2's full checkpoints (``teacher``/``student`` with
    ``backbone.`` prefixes) and wrappers under ``state_dict``, ``model`` or (else) ``model_ema``; drops DDP
    ``module.`` prefixes and the projection heads.
    """
    if not isinstance(checkpoint, dict):
        raise UserError(f"The checkpoint holds a {type(checkpoint).__name__}, not a state dict.")
    for key in ("teacher", "state_dict", "model", "model_ema"):
        if key in checkpoint and isinstance(checkpoint[key], dict):
            logger.info("Reading the checkpoint's %r weights.", key)
            checkpoint = checkpoint[key]
            break
    state: dict[str, torch.Tensor] = {}
    for key, value in checkpoint.items():
        for prefix in ("module.", "backbone."):
            if key.startswith(prefix):
                key = key[len(prefix) :]
        if key.startswith(("head.", "dino_head.", "ibot_head.")) or not torch.is_tensor(value):
            continue
        state[key] = value
    return state


def hub_checkpoint_path(model: str) -> Path | None:
    """Where the torch hub cache keeps the official file of a hub name: the file there, or where it would
    be put (None for names that are not hub names)."""
    entry = hub_backbones().get(model)
    if entry is None:
        return None
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    if "*" not in entry.file_glob:
        return folder / entry.file_glob
    found = sorted(folder.glob(entry.file_glob))
    if len(found) > 1:
        raise UserError(
            f"The hub cache holds {len(found)} files for {model} ({', '.join(p.name for p in found)}): pass the "
            "one to use as `backbone.weights`."
        )
    return found[0] if found else folder / entry.file_glob


def official_weights(config: BackboneConfig) -> tuple[dict[str, torch.Tensor], str]:
    """A hub name's official weights, else timm's copy of them; a timm name's from timm. Files already on
    disk come first (the hub cache, then timm's copy in the Hugging Face cache), then the downloads. A
    clear error when none works."""
    entry = hub_backbones().get(config.model)
    timm_name = entry.timm_weights if entry is not None else config.model
    tried = []
    cached = hub_checkpoint_path(config.model)
    if cached is not None:
        if cached.is_file():
            return extract_state_dict(read_checkpoint(cached)), str(cached)
        tried.append(f"not in the hub cache ({cached})")
    hf_file = hf_cached_file(timm_name) if timm_name is not None else None
    if hf_file is not None:
        return extract_state_dict(read_checkpoint(hf_file)), str(hf_file)
    if entry is not None and entry.url is not None:
        try:  # into the hub cache (torch writes a temporary file and renames it), then read as tensors only
            cached.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(entry.url, str(cached), progress=True)
            return extract_state_dict(read_checkpoint(cached)), entry.url
        except Exception as exc:
            tried.append(f"the download of {entry.url} failed ({exc})")
    if timm_name is not None and _reachable("huggingface.co"):
        try:
            model = timm.create_model(timm_name, pretrained=True, num_classes=0)
            return model.state_dict(), f"timm hub: {timm_name}"
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            tried.append(f"timm could not get {timm_name} ({reason})")
    elif timm_name is not None:
        tried.append(f"{timm_name} is not in the Hugging Face cache and its hub is out of reach")
    raise UserError(f"No weights for {config.model}: {'; '.join(tried)}. {_where_to_get(config.model, entry)}")


def hf_cached_file(timm_name: str) -> Path | None:
    """timm's weights file for ``timm_name`` in the Hugging Face cache, without going online."""
    try:
        from huggingface_hub import try_to_load_from_cache

        repo = getattr(timm.models.get_pretrained_cfg(timm_name), "hf_hub_id", None)
    except (ImportError, RuntimeError, ValueError):
        return None
    if not repo:
        return None
    for filename in ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"):
        found = try_to_load_from_cache(repo, filename)
        if isinstance(found, str):
            return Path(found)
    return None


def _reachable(host: str) -> bool:
    """Whether ``host`` answers on 443 within a few seconds (offline, timm's download retries for a minute)."""
    try:
        socket.create_connection((host, 443), timeout=3).close()
        return True
    except OSError:
        return False


def _where_to_get(model: str, entry: HubEntry | None) -> str:
    fallback = "pass `backbone.weights` PATH to a checkpoint file (or `backbone.weights` random for a random backbone)"
    if entry is None:
        return f"Offline, {fallback}."
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    if entry.url is not None:
        return f"Download {entry.url} and put it in {folder}, or {fallback}."
    family = family_of(model)
    where = (
        family.licence_note if family is not None and family.licence_note else f"{entry.family} weights are not public"
    )
    return f"{where}: put the {entry.file_glob.replace('*', '-<hash>')} file in {folder}, or {fallback}."


def fit_state(
    backbone: nn.Module, state: dict[str, torch.Tensor], grid: int, rule: str, family: Family | None
) -> tuple[dict[str, torch.Tensor], dict]:
    """(``state`` in the layout of ``backbone``, the family's own keys kept aside). ``backbone`` is a timm
    model built for a ``grid x grid`` patch grid: the learned position embeddings are resampled by the
    family's ``rule`` in the checkpoint's own layout, the family does its part, then timm's filter for the
    model's module converts the rest (DINOv2's registers and CLS position, DINOv3's storage tokens, CLIP's
    names, ...)."""
    state = dict(state)
    own_pos = getattr(backbone, "pos_embed", None)
    if "pos_embed" in state and own_pos is not None and state["pos_embed"].shape != own_pos.shape:
        in_model = 0 if getattr(backbone, "no_embed_class", False) else backbone.num_prefix_tokens
        prefix = prefix_positions(state["pos_embed"].shape[1], tuple(dict.fromkeys((in_model, 1, 0))))
        state["pos_embed"] = interpolate_pos_embed(state["pos_embed"], grid, prefix, rule)
    extras: dict = {}
    if family is not None:
        state, extras = family.before_filter(backbone, state)
    filter_fn = getattr(sys.modules[type(backbone).__module__], "checkpoint_filter_fn", None)
    if filter_fn is not None:
        state = filter_fn(state, backbone)
    return state, extras


def check_family(state: dict[str, torch.Tensor], backbone: nn.Module, model: str, source: str) -> None:
    """A clear error for a file of another family, another layout or other patches than ``model``'s."""
    if any(key.startswith(("embeddings.", "encoder.layer.")) for key in state):
        raise UserError(
            f"The weights in {source} are in the layout of Hugging Face transformers, which is not read here: use "
            "the family's official .pth file, or timm's copy (the timm/... models on the Hugging Face hub)."
        )
    found, expected = file_family(state), family_of(model)
    if found is not None and expected is not None and found.name != expected.name:
        raise UserError(
            f"The weights in {source} are a {found.name} file, and `backbone.model` {model} is {expected.name}: name "
            f"the {found.name} model of the file's size ({', '.join(found.hub())})."
        )
    if expected is not None:
        expected.check_file(state, source, model)
    weight = state.get("patch_embed.proj.weight")
    own = backbone.patch_embed.proj.weight.shape[-1]
    if weight is not None and weight.ndim == 4 and weight.shape[-1] != own:
        raise UserError(
            f"The weights in {source} have {weight.shape[-1]} px patches and `backbone.model` {model} {own} px "
            "ones: name the model with the file's patch size."
        )


def load_weights(backbone: nn.Module, state: dict[str, torch.Tensor], grid: int, model: str, source: str) -> None:
    """Load ``state`` into ``backbone`` (built for ``model``) with every key used (see ``fit_state``)."""
    entry, family = entry_of(model), family_of(model)
    rule = entry.positions if entry is not None else "timm"
    try:
        state, extras = fit_state(backbone, state, grid, rule, family)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise UserError(f"The weights in {source} cannot be fitted to this architecture: {exc}.") from exc
    own = backbone.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong_shape = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if family is not None:  # what the family keeps aside must fit the model too
        not_taken, misshapen = family.extras_mismatch(backbone, extras)
        unexpected, wrong_shape = unexpected + not_taken, wrong_shape + misshapen
    if missing or unexpected or wrong_shape:
        raise UserError(
            f"The weights in {source} do not fit this architecture: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}, wrong shape {wrong_shape[:5]}. Check that `backbone.model` names "
            "the architecture the checkpoint was trained with."
        )
    backbone.load_state_dict(state, strict=True)
    if family is not None:
        family.after_load(backbone, extras)
