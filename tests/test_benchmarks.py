"""The benchmark scripts follow the code they measure: every one imports, and the two feature benchmarks
(the GPU session's script runs them) run end to end at a tiny size on the CPU, in this process."""

import importlib.util
import json
import logging
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(script: str):
    spec = importlib.util.spec_from_file_location(f"benchmark_{script[:-3]}", BENCHMARKS / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # names it imports that are gone fail here
    return module


@pytest.mark.parametrize("script", sorted(p.name for p in BENCHMARKS.glob("*.py")))
def test_every_benchmark_imports(script):
    assert callable(_load(script).main)


def _json_line(script: str, args: list[str], monkeypatch, capsys) -> dict:
    """The benchmark's main() run here (no process boundary is tested), and the JSON line it printed."""
    monkeypatch.setattr(sys, "argv", [script, *args])
    package = logging.getLogger("fungi_hb")
    level = package.level
    try:
        assert _load(script).main() == 0
    finally:
        package.setLevel(level)  # the benchmark quiets the package's log: not for the tests after it
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["bank", "fungi"])
def test_bench_features_runs_on_the_cpu(mode, monkeypatch, capsys):
    tiny = "--model vit_tiny_patch16_224 --input-size 32 --images 2 --batch-size 2 --num-workers 0 --support-rows 256"
    report = _json_line("bench_features.py", ["--mode", mode, *tiny.split(), "--index-backend", "exact"], monkeypatch,
                        capsys)  # fmt: skip
    assert report["mode"] == mode and report["images"] == 2 and report["seconds_per_image"] > 0


@pytest.mark.slow
def test_compare_devices_agrees_with_itself_on_the_cpu(monkeypatch, capsys):
    tiny = ["--device", "cpu", "--input-size", "32", "--model", "vit_tiny_patch16_224"]  # 12 blocks, as the layer needs
    report = _json_line("compare_devices.py", tiny, monkeypatch, capsys)
    assert report["cpu_fp32"]["min_cosine"] > 0.9999 and report["pass"]
