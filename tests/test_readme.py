"""The README as a newcomer uses it: its Python example runs as written, CI runs its set-up and test
commands, and nothing in the repository points outside it."""

import json
import os
import re
import runpy
import shlex
import sys
from pathlib import Path

import pytest

from conftest import ROOT, make_data

README = (ROOT / "README.md").read_text()


def block(name: str) -> list[str]:
    """The command lines of README's <!-- name --> ... <!-- /name --> block."""
    match = re.search(rf"<!-- {name} -->\n```sh\n(.*?)```\n<!-- /{name} -->", README, flags=re.S)
    assert match, f"README.md lost its <!-- {name} --> block"
    return match.group(1).strip().splitlines()


def test_python_api_example_runs(tmp_path, monkeypatch):
    """The example as written, with torchvision's ViT-B/16 swapped for a 2-block one of the same class (no
    download) and a generated VOCSegmentation folder where it looks."""
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert len(blocks) == 1, "the README has one Python example"
    assert len(blocks[0].strip().splitlines()) <= 20
    import torchvision
    from torchvision.models.vision_transformer import VisionTransformer

    def small_vit_b_16(weights=None):
        return VisionTransformer(224, 16, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64)

    monkeypatch.setattr(torchvision.models, "vit_b_16", small_vit_b_16)
    make_data(tmp_path / "VOCSegmentation", num_train=6, num_val=2)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    results = namespace["results"]
    assert 0 <= results["miou_percent"] <= 100 and results["num_val_images"] == 2
    assert results["feature_identity"]["fungi"]["gradients_layer"] == "backbone.encoder.layers.encoder_layer_1.mlp.3"


@pytest.mark.slow
def test_the_quick_start_runs(tmp_path, monkeypatch, capsys):
    """The quick start's three commands from a fresh folder, offline: the files they name, run here as
    __main__ with random weights, no workers and 64 px inputs added (the README's timing is for 224 px)."""
    lines = block("quickstart")
    assert len(lines) == 3 and "--output-dir run1" in lines[1] and "--output-dir run1" in lines[2]
    monkeypatch.chdir(tmp_path)
    for line in lines:
        words = shlex.split(line)
        assert words[0] == "python"
        extra = ["--weights", "random", "--num-workers", "0", "--input-size", "64"] if "--data-dir" in words else []
        monkeypatch.setattr(sys, "argv", [str(ROOT / words[1]), *words[2:], *extra])
        with pytest.raises(SystemExit) as stop:
            runpy.run_path(str(ROOT / words[1]), run_name="__main__")
        assert stop.value.code in (0, None), line
    results = json.loads((tmp_path / "run1" / "results_fungi.json").read_text())
    assert results["num_val_images"] == 4 and 0 <= results["miou_percent"] <= 100
    assert (tmp_path / "run1" / "pictures_fungi" / "index.html").is_file()
    assert "mIoU" in capsys.readouterr().out


def test_every_page_the_readme_links_exists():
    pages = re.findall(r"\]\((docs/[^)#]+)", README)
    assert len(pages) >= 13
    assert [page for page in pages if not (ROOT / page).is_file()] == []
    for page in (ROOT / "docs").glob("*.md"):
        links = re.findall(r"\]\(([a-z0-9_-]+\.md)", page.read_text())
        assert [link for link in links if not (ROOT / "docs" / link).is_file()] == [], page.name


def test_ci_runs_the_readme_set_up_and_test_commands():
    assert block("setup") == [
        "python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements-dev.txt -e ."
    ]
    assert block("tests") == ["python -m pytest -q --durations=15"]  # CI shows the 15 slowest tests
    ci = (ROOT / ".ci" / "run").read_text()
    assert "readme_block setup" in ci and "readme_block tests" in ci and "git -C" in ci and "mktemp -d" in ci


def test_nothing_points_outside_the_repository():
    outside = "../" + "shared"  # spelled in two parts so that this file does not match itself
    skipped = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", "demo_output", "runs", ".fungi-work"}
    suffixes = (".py", ".sh", ".md", ".txt", ".toml", ".json", ".cfg", ".yml", ".yaml")
    files = []
    for folder, subfolders, names in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if d not in skipped]  # pruned, not walked
        files += [Path(folder) / n for n in names if n.endswith(suffixes) or n == "run"]
    assert any(p.name == "README.md" for p in files)
    offenders = [str(p.relative_to(ROOT)) for p in files if outside in p.read_text(errors="replace")]
    assert offenders == []
