"""Ctrl-C is never lost, wherever it lands: sent deterministically from inside the fork that starts a worker
process (CPython swallows what an at-fork callback raises, KeyboardInterrupt included)."""

import os
import signal
import subprocess
import sys

import pytest

from conftest import ROOT, bank_args
from fungi_hb.data.synthetic import make_synthetic_dataset
from fungi_hb.interrupts import interrupts_held

# create_memory_bank.py, with a Ctrl-C sent from the first fork made under the function named in argv[1]
DRIVER = """
import os, signal, sys, traceback
where, sent = sys.argv[1], []
def ctrl_c():
    if not sent and any(frame.name == where for frame in traceback.extract_stack()):
        sent.append(1)
        os.kill(os.getpid(), signal.SIGINT)
os.register_at_fork(before=ctrl_c)
sys.path.insert(0, "src")
from fungi_hb.cli.create_memory_bank import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("where", ["check_samples", "run_pieces"])  # the file check's pool, the loader's workers
def test_ctrl_c_while_workers_are_forked(tmp_path, where):
    data = make_synthetic_dataset(tmp_path / "voc", num_train=4, num_val=2, size=(48, 64))
    args = bank_args(data, tmp_path / "out")
    args[args.index("--num-workers") + 1] = "2"
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))  # the file check must run
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, where, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 130, result.stderr
    assert "Interrupted" in result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr


def test_a_held_interrupt_is_raised_after_the_block():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_held():
            signal.raise_signal(signal.SIGINT)
            done.append(1)
    assert done and signal.getsignal(signal.SIGINT) is signal.default_int_handler


STARTUP_DRIVER = """
import builtins, os, runpy, signal, sys
real_import = builtins.__import__
def ctrl_c_when_torch_loads(name, *args, **kwargs):
    if name == "torch":
        builtins.__import__ = real_import
        os.kill(os.getpid(), signal.SIGINT)
    return real_import(name, *args, **kwargs)
builtins.__import__ = ctrl_c_when_torch_loads
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.parametrize("script", ["create_memory_bank.py", "eval_gradients.py"])
def test_ctrl_c_while_the_libraries_load_after_parsing(tmp_path, script):
    """The scripts parse their flags before torch loads: a Ctrl-C during that load is one line and 130."""
    args = ["--data-dir", str(tmp_path / "none"), "--weights", "random"]
    result = subprocess.run(
        [sys.executable, "-c", STARTUP_DRIVER, script, *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 130, result.stderr
    assert "Interrupted before anything started." in result.stderr and "Traceback" not in result.stderr
