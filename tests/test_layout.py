"""The layout's promises: flag names are written only in ``cli/``, and the one table from job fields to
flags names real fields and real flags."""

import dataclasses
import re
from pathlib import Path

import pytest

from fungi_hb.cli import create_memory_bank, eval_gradients
from fungi_hb.cli.fields import FLAGS, render
from fungi_hb.jobs.configs import EvalJob, MemoryBankJob

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "fungi_hb"


def _flags_of(parser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def test_no_flag_is_named_below_cli():
    pattern = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]+")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in PACKAGE.rglob("*.py")
        if "cli" not in path.relative_to(PACKAGE).parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if any(flag in FLAGS.values() or flag == "--n-neighbors" for flag in pattern.findall(line))
    ]
    assert not offenders, "flag names outside cli/ (name the job field in backticks instead):\n" + "\n".join(offenders)


@pytest.mark.parametrize("field, flag", sorted(FLAGS.items()))
def test_every_field_in_the_table_is_a_job_field_with_a_flag(field, flag):
    jobs = [MemoryBankJob, EvalJob]
    resolved = []
    for job in jobs:
        cls, ok = job, True
        for name in field.split("."):
            fields = {f.name: f for f in dataclasses.fields(cls)}
            if name not in fields:
                ok = False
                break
            kind = fields[name].type
            cls = kind if dataclasses.is_dataclass(kind) else None
            if cls is None and name != field.split(".")[-1]:
                ok = False
                break
        if ok:
            resolved.append(job)
    assert resolved, f"{field} is not a field of MemoryBankJob or EvalJob"
    parsers = {MemoryBankJob: create_memory_bank.build_parser(), EvalJob: eval_gradients.build_parser()}
    assert any(flag in _flags_of(parsers[job]) for job in resolved), f"{flag} is not a flag of the script"


def test_messages_name_flags_for_users_of_the_scripts():
    message = "`memory.memory_size` 7: too small. Raise `memory.memory_size` or lower `index.num_neighbors`."
    assert render(message) == "--memory-size 7: too small. Raise --memory-size or lower --num-neighbors."
    assert render("`backbone.blocks.11` stays") == "`backbone.blocks.11` stays"


@pytest.mark.parametrize("script", ["create_memory_bank.py", "eval_gradients.py"])
def test_help_is_shown_without_loading_torch(script):
    """The flags and their defaults come from torch-free config modules; the libraries load after parsing."""
    import subprocess
    import sys

    code = (
        "import runpy, sys; sys.argv = [sys.argv[1], '--help']\n"
        "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
        "except SystemExit as stop:\n    print('exit', stop.code, 'torch' in sys.modules, 'timm' in sys.modules)\n"
    )
    root = PACKAGE.parents[1]
    result = subprocess.run([sys.executable, "-c", code, script], cwd=root, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "exit 0 False False", result.stderr
    assert "--memory-size" in result.stdout
