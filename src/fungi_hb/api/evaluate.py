"""``fungi_hb.evaluate(model, data_dir, **settings)``: the in-context evaluation of any model in one call.

    results = fungi_hb.evaluate(my_vit, "VOCSegmentation", patch_tokens=my_patch_tokens, features="fungi")

``model`` maps normalised images [B, 3, S, S] to patch tokens [B, P, D] (P = (S/p)^2, row-major), or
``patch_tokens(model, images)`` does. Settings are the scripts' flags with underscores (``memory_size``,
``num_neighbors``, ``gradients_layer``, ``index_backend``, ``device``, ...), with the scripts' defaults;
an unknown one is refused with the closest name. For FUNGI the support bank is built first with
create_memory_bank.py's own defaults (k = 5: ``support_num_neighbors``; ``support_batch_size`` 32), or
taken from a saved folder (``support=``). Under torchrun every process calls it; the first returns the
results, the others None.

Nothing is left on disk unless ``output_dir`` is given: then it holds what the scripts' ``--output-dir``
holds (``support/``, ``results_<features>.json``, ``pictures_<features>/``) and the pieces of a stopped run,
which a second call with the same settings resumes.
"""

import argparse
import difflib
import logging
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from fungi_hb.cli.declared import Declared, declared, with_values
from fungi_hb.cli.fields import KEYWORDS, flag_names, keyword, render
from fungi_hb.errors import UserError
from fungi_hb.features.models.base import TokenFn
from fungi_hb.features.own_model import own_backbone
from fungi_hb.jobs.configs import EvalJob, MemoryBankJob
from fungi_hb.jobs.evaluate import run_eval
from fungi_hb.jobs.feature_setup import fungi_model
from fungi_hb.jobs.memory_bank import run_memory_bank
from fungi_hb.log import setup_logging
from fungi_hb.runs import distributed
from fungi_hb.runs.distributed import World, world_from_env

logger = logging.getLogger(__name__)

# Paths the call lays out itself (under output_dir or a temporary folder), not settings of the caller.
LAID_OUT = {"support_features", "support_index", "output", "save_predictions", "features_path", "labels_path",
            "index_dir"}  # fmt: skip
PER_JOB = {"index.num_neighbors", "data.batch_size"}  # the same name means another thing for each job


@dataclass(frozen=True)
class CallOptions:
    """What the call takes besides the jobs' settings."""

    output_dir: Path | None = None  # keep everything here (else a temporary folder, removed)
    support: Path | None = None  # a saved support bank folder (features.pth, labels.pth, index/)
    support_num_neighbors: int = 5  # k of the support index built for FUNGI
    support_batch_size: int = 32
    log_level: str = "INFO"


def _settings_of(job_type: type) -> dict[str, Declared]:
    """The call's keyword -> each setting ``job_type`` offers."""
    return {keyword(item.flag.name): item for item in declared(job_type) if item.path not in LAID_OUT}


def _checked(name: str, item: Declared, value: Any) -> Any:
    """``value`` as the flag's parser takes it (the same checks as the scripts'), or a UserError."""
    flag = item.flag
    if isinstance(item.default, bool) and flag.parse is None:
        if not isinstance(value, bool):
            raise UserError(f"`{name}` takes True or False, not {value!r}.")
        return value
    values = list(value) if flag.nargs else [value]
    if flag.nargs and len(values) != flag.nargs:
        raise UserError(f"`{name}` takes {flag.nargs} values, not {value!r}.")
    choices = flag.choices() if callable(flag.choices) else flag.choices
    parsed = []
    for one in values:
        if value is None and item.default is None:
            return None
        if choices is not None and str(getattr(one, "value", one)) not in choices:
            raise UserError(f"`{name}` {one!r} is not one of {', '.join(choices)}.")
        try:
            parsed.append((flag.parse or str)(str(getattr(one, "value", one))))
        except (argparse.ArgumentTypeError, ValueError) as exc:
            raise UserError(f"`{name}` {one!r}: {exc}.") from None
    return tuple(parsed) if flag.nargs else parsed[0]


def _split(settings: dict[str, Any]) -> tuple[CallOptions, dict[str, Any], dict[str, Any]]:
    """(the call's own options, values for the evaluation job, values for the support bank job)."""
    own = {name: settings.pop(name) for name in list(settings) if name in CallOptions.__dataclass_fields__}
    paths = {k: Path(v) if k in ("output_dir", "support") and v is not None else v for k, v in own.items()}
    options = CallOptions(**paths)
    evaluation, bank = _settings_of(EvalJob), _settings_of(MemoryBankJob)
    unknown = sorted(set(settings) - set(evaluation))
    if unknown:
        known = [*evaluation, *CallOptions.__dataclass_fields__]
        close = {name: difflib.get_close_matches(name, known, n=1) for name in unknown}
        hints = [f"{name} (did you mean {close[name][0]}?)" if close[name] else name for name in unknown]
        raise UserError(f"Unknown setting{'s' if len(unknown) > 1 else ''}: {', '.join(hints)}.")
    values = {evaluation[name].path: _checked(name, evaluation[name], value) for name, value in settings.items()}
    bank_paths = {item.path for item in bank.values()}
    shared = {path: value for path, value in values.items() if path in bank_paths and path not in PER_JOB}
    shared |= {"index.num_neighbors": options.support_num_neighbors, "data.batch_size": options.support_batch_size}
    return options, values, shared


def _device(model: nn.Module, asked: str, world: World) -> torch.device:
    """``auto``: where the model's weights are (this process's GPU under torchrun); else as asked."""
    places = {tensor.device for tensor in (*model.parameters(), *model.buffers())}
    if asked == "auto" and len(places) == 1 and not world.distributed:
        return next(iter(places))
    return distributed.device_for(asked, world)


@contextmanager
def _folder(output_dir: Path | None, world: World) -> Iterator[Path]:
    """Where the call works: ``output_dir``, else a temporary folder (the same one for every process of a
    torchrun job on one machine), removed at the end."""
    if output_dir is not None:
        yield Path(output_dir)
        return
    if world.size > int(os.environ.get("LOCAL_WORLD_SIZE", world.size)):
        raise UserError("Over several machines, give `output_dir` on a file system every machine sees.")
    if not world.distributed:
        with tempfile.TemporaryDirectory(prefix="fungi-hb-") as folder:
            yield Path(folder)
        return
    folder = Path(tempfile.gettempdir()) / f"fungi-hb-{os.environ.get('TORCHELASTIC_RUN_ID', 'run')}"
    try:
        yield folder
    finally:
        distributed.barrier(world)
        if world.is_main:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)


def _jobs(model_name: str, data_dir: Path, values: tuple[dict, dict], folder: Path, options: CallOptions):
    """The support bank's job and the evaluation's, laid out in ``folder``."""
    evaluation, bank = values
    base = {"backbone.model": model_name, "data.data_dir": Path(data_dir)}
    support = options.support or folder / "support"
    bank_job = replace(
        with_values(MemoryBankJob(), {**base, **bank}),
        features_path=support / "features.pth",
        labels_path=support / "labels.pth",
        index_dir=support / "index",
    )
    eval_job = with_values(EvalJob(), {**base, **evaluation})
    laid_out = {
        "support_features": support / "features.pth",
        "support_index": support / "index",
        "output": folder / f"results_{eval_job.features}.json" if options.output_dir else None,
        "save_predictions": folder / f"pictures_{eval_job.features}" if options.output_dir else None,
    }
    return bank_job, replace(eval_job, **laid_out)


def evaluate(  # signature of the one-call API: its settings are named as the scripts' flags
    model: nn.Module, data_dir: str | Path, patch_tokens: TokenFn | None = None, **settings: Any
) -> dict | None:
    """HummingBird in-context evaluation of ``model`` on the dataset in ``data_dir``; returns the results
    file's dictionary (on the first process; None on the others under torchrun). See the module docstring."""
    if not isinstance(model, nn.Module):
        raise UserError(f"`model` is a {type(model).__name__}, not a torch.nn.Module.")
    options, evaluation, bank = _split(dict(settings))
    world = world_from_env()
    setup_logging(options.log_level, world.rank)
    name = f"{type(model).__module__}.{type(model).__qualname__}"
    with flag_names(KEYWORDS):
        try:
            with _folder(options.output_dir, world) as folder:
                bank_job, eval_job = _jobs(name, Path(data_dir), (evaluation, bank), folder, options)
                device = _device(model, eval_job.runtime.device, world)
                eval_job = replace(eval_job, runtime=replace(eval_job.runtime, device=str(device)))
                bank_job = replace(bank_job, runtime=replace(bank_job.runtime, device=str(device)))
                backbone = own_backbone(model, patch_tokens, eval_job.backbone, device)
                if eval_job.features == "fungi":  # a layer FUNGI cannot use is refused before the support bank
                    fungi_model(eval_job, backbone, device)
                if eval_job.features == "fungi" and options.support is None:
                    run_memory_bank(bank_job, world, backbone)
                    distributed.barrier(world)  # the first process commits the bank while the others wait
                return run_eval(eval_job, world, backbone)
        except UserError as exc:
            raise UserError(render(str(exc), KEYWORDS)) from None
        finally:
            distributed.stop()
