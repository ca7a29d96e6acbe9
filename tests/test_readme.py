"""The README's Python example runs as written."""

import re

from conftest import ROOT


def test_python_api_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert blocks, "the README lost its Python example"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert namespace["features"].shape == (2, 196, 768)


def test_readme_names_the_ci_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest -q" in (ROOT / "README.md").read_text()
    assert "-m pytest -q" in ci
