"""The README as a newcomer uses it: its Python example runs as written, CI runs its set-up and test
commands, and nothing in the repository points outside it."""

import os
import re
from pathlib import Path

from conftest import ROOT

README = (ROOT / "README.md").read_text()


def block(name: str) -> list[str]:
    """The command lines of README's <!-- name --> ... <!-- /name --> block."""
    match = re.search(rf"<!-- {name} -->\n```sh\n(.*?)```\n<!-- /{name} -->", README, flags=re.S)
    assert match, f"README.md lost its <!-- {name} --> block"
    return match.group(1).strip().splitlines()


def test_python_api_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert blocks, "the README lost its Python example"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert namespace["features"].shape == (2, 196, 768)


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
