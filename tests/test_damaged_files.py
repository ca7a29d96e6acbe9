"""An image damaged after the file check passed it (its size and times kept, or bit rot on the disk) stops
the run with one line naming it and the cause, exit status 2; under torchrun the first process says which
process failed and why, without a traceback."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, bank_args
from fungi_hb.cli import create_memory_bank
from fungi_hb.data import checks
from fungi_hb.data.config import DataConfig
from fungi_hb.data.datasets.registry import open_dataset
from fungi_hb.data.samples import train_samples
from fungi_hb.data.synthetic import make_synthetic_dataset


def damage(image: Path) -> None:
    """Same size, first bytes zeroed: PIL can no longer identify it."""
    raw = bytearray(image.read_bytes())
    raw[:16] = bytes(16)
    image.write_bytes(bytes(raw))


def damaged_after_the_check(data: Path, index: int) -> Path:
    """Every training file passes the check (into its cache, under $XDG_CACHE_HOME); then training sample
    ``index`` rots on the disk: its bytes change, the cache still holds its stamp."""
    dataset = open_dataset(data)
    samples = train_samples(dataset, DataConfig(data), 42)
    checks.check_samples(samples, dataset.classes, "training", 1)
    image = Path(str(samples[index].image))
    damage(image)
    path = checks._cache_file(dataset.classes.name)
    stamps = {json.dumps([s.image.stamp(), s.mask.stamp()]) for s in samples}
    checks._save_cache(path, checks._load_cache(path) | stamps)
    return image


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_a_damaged_file_with_its_size_and_times_kept_is_checked_again(tmp_path, cache, caplog):
    data = make_synthetic_dataset(tmp_path / "voc", num_train=4, num_val=2, size=(48, 64))
    assert create_memory_bank.main(bank_args(data, tmp_path / "a")) == 0  # every file now in the check's cache
    image = data / "images" / "2007_000002.jpg"
    before = image.stat()
    damage(image)
    os.utime(image, ns=(before.st_atime_ns, before.st_mtime_ns))  # as cp -p, rsync -t or touch -r leave it
    assert create_memory_bank.main(bank_args(data, tmp_path / "b")) == 2
    assert "damaged or invalid" in caplog.text and "2007_000002.jpg: the image cannot be decoded" in caplog.text


@pytest.mark.parametrize("workers", ["0", "2"])
def test_an_image_damaged_after_the_check_is_named(tmp_path, cache, caplog, workers):
    data = make_synthetic_dataset(tmp_path / "voc", num_train=4, num_val=2, size=(48, 64))
    image = damaged_after_the_check(data, 2)
    args = bank_args(data, tmp_path / "out")
    args[args.index("--num-workers") + 1] = workers
    assert create_memory_bank.main(args) == 2
    assert f"{image}: the image cannot be decoded" in caplog.text and "replace it or remove its id" in caplog.text
    assert "A file operation failed" not in caplog.text and "Traceback" not in caplog.text


@pytest.mark.slow
def test_under_torchrun_the_first_process_reports_the_failed_one(tmp_path, cache):
    data = make_synthetic_dataset(tmp_path / "voc", num_train=10, num_val=2, size=(48, 64))
    image = damaged_after_the_check(data, 2)  # in piece 1 of 2-image pieces: process 1's
    args = [*bank_args(data, tmp_path / "out"), "--batch-size", "2", "--piece-images", "2", "--index-backend", "exact"]
    env = dict(os.environ, PYTHON=sys.executable, NPROC="2")
    env.pop("TORCHRUN_ARGS", None)
    result = subprocess.run(
        ["bash", "-c", 'source scripts/_launch.sh && launch "$@"', "bash", "create_memory_bank.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert f"[rank 1] ERROR fungi_hb: {image}: the image cannot be decoded" in result.stderr
    assert f"The job was stopped because process 1 failed: {image}: the image cannot be decoded" in result.stderr
    assert "Traceback" not in result.stderr and "Connection closed by peer" not in result.stderr
    assert "failed ranks (status): 0 (" in result.stderr  # 2 here, or 143 if torchrun stopped it first
