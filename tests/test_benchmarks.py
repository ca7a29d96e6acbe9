"""The benchmark scripts follow the code they measure: every one imports, and the two feature benchmarks
(the GPU session's script runs them) run end to end at a tiny size on the CPU."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCHMARKS.glob("*.py")))
def test_every_benchmark_imports(script):
    spec = importlib.util.spec_from_file_location(f"benchmark_{script[:-3]}", BENCHMARKS / script)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))  # names it imports that are gone fail here


def _json_line(args: list[str]) -> dict:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["bank", "fungi"])
def test_bench_features_runs_on_the_cpu(mode):
    tiny = "--input-size 32 --images 2 --batch-size 2 --num-workers 0 --support-rows 256 --index-backend exact"
    report = _json_line([str(BENCHMARKS / "bench_features.py"), "--mode", mode, *tiny.split()])
    assert report["mode"] == mode and report["images"] == 2 and report["seconds_per_image"] > 0


@pytest.mark.slow
def test_compare_devices_agrees_with_itself_on_the_cpu():
    report = _json_line([str(BENCHMARKS / "compare_devices.py"), "--device", "cpu", "--input-size", "32"])
    assert report["cpu_fp32"]["min_cosine"] > 0.9999 and report["pass"]
