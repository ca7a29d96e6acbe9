"""Before the long part: every image decodes fully, and every mask is a single-channel 8-bit image of the
same size as its image holding only values the dataset allows. Files already found good are remembered in
the tool's cache (``storage.cache``; keyed on path, size, modification and change time, or an archive
member's place), so reruns check only what changed."""

import hashlib
import json
import logging
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from fungi_hb.data.datasets.base import TargetSpec
from fungi_hb.data.samples import Sample
from fungi_hb.data.targets import TargetReader, reader_for
from fungi_hb.errors import UserError
from fungi_hb.interrupts import interrupts_held
from fungi_hb.storage.atomic import save_json
from fungi_hb.storage.cache import cache_enabled, cache_root

logger = logging.getLogger(__name__)
SHOWN = 5  # offenders named in the error


def check_sample(sample: Sample, reader: TargetReader, decode_only: bool = False) -> str | None:
    """None if the sample is good, else what is wrong with it (one phrase). ``decode_only``: only that both
    files still decode (the values were checked before the long part)."""
    try:
        with sample.image.open() as handle, Image.open(handle) as image:
            image.load()  # decodes every byte: a truncated file fails here, not hours later
            size = image.size
    except Exception as exc:
        return f"{sample.image}: the image cannot be decoded ({str(exc) or type(exc).__name__})"
    try:
        if decode_only:
            with sample.mask.open() as handle, Image.open(handle) as target:
                target.load()
            return None
        return reader.check(sample.mask, size)
    except Exception as exc:
        return f"{sample.mask}: the {reader.noun} cannot be decoded ({str(exc) or type(exc).__name__})"


def _check_chunk(args: tuple[list[Sample], TargetReader]) -> list[str | None]:
    samples, reader = args
    return [check_sample(sample, reader) for sample in samples]


def _cache_file(name: str) -> Path:
    return cache_root() / "checked-files" / f"{hashlib.sha1(name.encode()).hexdigest()[:12]}.json"


def _load_cache(path: Path) -> set[str]:
    if not cache_enabled():
        return set()
    try:
        return set(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return set()


def _save_cache(path: Path, keys: set[str]) -> None:
    if not cache_enabled():
        return
    try:
        save_json(sorted(keys), path)
    except OSError:
        pass  # a cache that cannot be written only costs time


def check_samples(samples: list[Sample], targets: TargetSpec, what: str, workers: int) -> None:
    """Refuse, naming the first offenders and the count, if any sample is damaged or invalid (``targets``:
    the dataset's classes or depth spec, whose reader checks the target files)."""
    reader = reader_for(targets)
    cache_path = _cache_file(targets.name)
    cache = _load_cache(cache_path)
    keys = [json.dumps([s.image.stamp(), s.mask.stamp()]) for s in samples]
    todo = [i for i, key in enumerate(keys) if key not in cache]
    problems: list[str] = []
    if todo:
        chunk = max(1, min(64, len(todo) // (4 * max(workers, 1)) or 1))
        parts = [([samples[i] for i in todo[s : s + chunk]], reader) for s in range(0, len(todo), chunk)]
        results = []
        with tqdm(
            total=len(todo), desc=f"checking {what} files", unit="img", leave=False, disable=len(todo) < 200
        ) as bar:
            if workers > 1 and len(parts) > 1:
                pool = ProcessPoolExecutor(max_workers=workers)
                try:
                    with interrupts_held():  # the workers are forked here: a Ctrl-C meanwhile must not be lost
                        checked = pool.map(_check_chunk, parts)
                    for part, result in zip(parts, checked):
                        results += result
                        bar.update(len(part[0]))
                finally:
                    pool.shutdown(cancel_futures=True)  # after a Ctrl-C: drop the chunks not yet started
            else:
                for part in parts:
                    results += _check_chunk(part)
                    bar.update(len(part[0]))
        for i, problem in zip(todo, results):
            if problem is None:
                cache.add(keys[i])
            else:
                problems.append(problem)
        _save_cache(cache_path, cache)
    if problems:
        mix_up = targets.mix_up if targets.mix_up and any("are not allowed" in p for p in problems) else None
        raise UserError(
            f"{len(problems)} of {len(samples)} {what} samples are damaged or invalid ({targets.rule()}): "
            f"{'; '.join(problems[:SHOWN])}{'; ...' if len(problems) > SHOWN else ''}. "
            + (mix_up or "Fix or replace these files, or drop their ids from the list.")
        )
    logger.debug("%d %s samples checked (%d from the cache)", len(samples), what, len(samples) - len(todo))
