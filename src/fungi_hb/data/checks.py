"""Before the long part: every image decodes fully, and every mask is a single-channel 8-bit image of the
same size as its image holding only values the dataset allows. Files already found good are remembered
(keyed on path, size, modification and change time), so reruns check only what changed."""

import hashlib
import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from fungi_hb.data.datasets.base import ClassSpec
from fungi_hb.data.samples import Sample
from fungi_hb.errors import UserError
from fungi_hb.interrupts import interrupts_held

logger = logging.getLogger(__name__)
SHOWN = 5  # offenders named in the error


def _stamp(path: Path) -> list:
    stat = path.stat()
    # the change time too: any write, copy over or re-dating (cp -p, rsync -t, touch -r) sets it, also where
    # the size and modification time end up as they were
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def check_sample(sample: Sample, allowed: np.ndarray) -> str | None:
    """None if the sample is good, else what is wrong with it (one phrase)."""
    try:
        with Image.open(sample.image) as image:
            image.load()  # decodes every byte: a truncated file fails here, not hours later
            size = image.size
    except Exception as exc:
        return f"{sample.image}: the image cannot be decoded ({str(exc) or type(exc).__name__})"
    try:
        with Image.open(sample.mask) as mask:
            mask.load()
            if mask.mode not in ("L", "P"):
                return f"{sample.mask}: the mask is a {mask.mode} image, not single-channel 8-bit class ids"
            if mask.size != size:
                return f"{sample.mask}: the mask is {mask.size[0]}x{mask.size[1]} but its image is {size[0]}x{size[1]}"
            values = np.unique(np.asarray(mask))
    except Exception as exc:
        return f"{sample.mask}: the mask cannot be decoded ({str(exc) or type(exc).__name__})"
    bad = values[~allowed[values]]
    if len(bad):
        return f"{sample.mask}: mask values {bad[:8].tolist()} are not allowed"
    return None


def _check_chunk(args: tuple[list[Sample], np.ndarray]) -> list[str | None]:
    samples, allowed = args
    return [check_sample(sample, allowed) for sample in samples]


def _cache_file(classes: ClassSpec) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fungi-hb" / "checked-files"
    return base / f"{hashlib.sha1(classes.name.encode()).hexdigest()[:12]}.json"


def _load_cache(path: Path) -> set[str]:
    try:
        return set(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return set()


def _save_cache(path: Path, keys: set[str]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp-{os.getpid()}")
        tmp.write_text(json.dumps(sorted(keys)))
        os.replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written only costs time


def check_samples(samples: list[Sample], classes: ClassSpec, what: str, workers: int) -> None:
    """Refuse, naming the first offenders and the count, if any sample is damaged or invalid."""
    allowed = classes.lookup() != -1  # (256,) bool
    cache_path = _cache_file(classes)
    cache = _load_cache(cache_path)
    keys = [json.dumps([_stamp(s.image), _stamp(s.mask)]) for s in samples]
    todo = [i for i, key in enumerate(keys) if key not in cache]
    problems: list[str] = []
    if todo:
        chunk = max(1, min(64, len(todo) // (4 * max(workers, 1)) or 1))
        parts = [([samples[i] for i in todo[s : s + chunk]], allowed) for s in range(0, len(todo), chunk)]
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
        allowed_text = classes.allowed_values()
        raise UserError(
            f"{len(problems)} of {len(samples)} {what} samples are damaged or invalid "
            f"({classes.name} masks may hold {allowed_text}): {'; '.join(problems[:SHOWN])}"
            f"{'; ...' if len(problems) > SHOWN else ''}. Fix or replace these files, or drop their ids from the list."
        )
    logger.debug("%d %s samples checked (%d from the cache)", len(samples), what, len(samples) - len(todo))
