"""Sharding over torchrun processes (gloo on the CPU) and resuming killed runs: the artifacts are the
same as one uninterrupted process makes (exact backend: bit for bit)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import ROOT, TINY_MODEL, make_data

pytestmark = pytest.mark.slow

COMMON = [*TINY_MODEL, "--input-size", "64", "--num-workers", "0", "--index-backend", "exact", "--batch-size", "2"]
COMMON += ["--piece-images", "2", "--log-level", "WARNING"]


def bank_command(data: str, out: Path, *extra: str) -> list[str]:
    outputs = ["--memory-bank", str(out / "features.pth"), "--memory-bank-labels", str(out / "labels.pth")]
    return ["create_memory_bank.py", "--data-dir", data, *COMMON, *outputs, "--scann-index", str(out / "index"), *extra]


def eval_command(data: str, support: Path, out: Path, *extra: str) -> list[str]:
    support_flags = ["--memory-bank", str(support / "features.pth"), "--scann-index", str(support / "index")]
    outputs = ["--output", str(out / "results.json"), "--save-eval-memory", str(out / "memory")]
    return ["eval_gradients.py", "--data-dir", data, *COMMON, *support_flags, "--num-neighbors", "10", *outputs, *extra]


def run(command: list[str], processes: int = 1) -> subprocess.CompletedProcess:
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    result = subprocess.run([*launcher, *command], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def tensors(folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.load(folder / "features.pth"), torch.load(folder / "labels.pth")


def assert_same_memory(a: Path, b: Path) -> None:
    (fa, la), (fb, lb) = tensors(a), tensors(b)
    assert torch.equal(fa, fb) and torch.equal(la, lb)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    return make_data(tmp_path_factory.mktemp("data"), num_train=10, num_val=5)


@pytest.fixture(scope="module")
def single(data, tmp_path_factory) -> Path:
    """Support bank and evaluation of one plain process: the reference."""
    out = tmp_path_factory.mktemp("single")
    run(bank_command(data, out / "support"))
    run(eval_command(data, out / "support", out / "eval"))
    return out


def test_sharded_runs_equal_one_process(data, single, tmp_path):
    """2 processes split 5 pieces unevenly (3 and 2); the sharded exact search splits the memory's chunks."""
    processes = 2
    run(bank_command(data, tmp_path / "support"), processes)
    assert_same_memory(single / "support", tmp_path / "support")
    run(eval_command(data, single / "support", tmp_path / "eval"), processes)
    assert_same_memory(single / "eval" / "memory", tmp_path / "eval" / "memory")
    ours = json.loads((tmp_path / "eval" / "results.json").read_text())
    reference = json.loads((single / "eval" / "results.json").read_text())
    assert abs(ours["miou"] - reference["miou"]) < 1e-12 and ours["processes"] == processes
    assert ours["tp"] == reference["tp"] and ours["pixels"] == reference["pixels"]
    assert not (tmp_path / "support" / ".fungi-work").exists() and not (tmp_path / "eval" / ".fungi-work").exists()
    # the evaluation memory's exact search shared out over the processes gives the same neighbours
    sharded_flags = ("--shard-exact-search", "--index-chunk-rows", "16")  # several chunks: each process holds some
    run(eval_command(data, single / "support", tmp_path / "sharded", *sharded_flags), processes)
    sharded = json.loads((tmp_path / "sharded" / "results.json").read_text())
    assert (
        sharded["tp"] == reference["tp"] and sharded["fp"] == reference["fp"] and sharded["miou"] == reference["miou"]
    )
    assert sharded["index"]["settings"]["sharded_over"] == processes


def kill_after_pieces(command: list[str], work: Path, counts: list[int]) -> None:
    """Run ``command`` and SIGKILL it once ``count`` finished pieces are in ``work``, for each count: every kill
    lands in the middle of the long part (whatever the machine's speed), with pieces on disk to resume."""
    for count in counts:
        process = subprocess.Popen(
            [sys.executable, *command], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.time() + 300
        while process.poll() is None and time.time() < deadline:
            if len(list(work.glob("*/e*.pth"))) >= count:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
        process.wait()
        assert process.returncode == -signal.SIGKILL, f"the run ended before {count} pieces were finished"


def test_killed_runs_resume_to_the_same_artifacts(tmp_path):
    data = make_data(tmp_path / "data", num_train=24, num_val=12)
    epochs = ["--augmentation-epochs", "3"]  # 36 pieces of the bank, 36 + 6 of the evaluation
    reference = tmp_path / "reference"
    run(bank_command(data, reference / "support", *epochs))
    run(eval_command(data, reference / "support", reference / "eval", *epochs))

    killed = tmp_path / "killed"
    kill_after_pieces(bank_command(data, killed / "support", *epochs), killed / "support" / ".fungi-work", [12])
    run(bank_command(data, killed / "support", *epochs))
    assert_same_memory(reference / "support", killed / "support")

    work = killed / "eval" / ".fungi-work"  # killed twice: a resumed run is killed again, then resumed
    kill_after_pieces(eval_command(data, reference / "support", killed / "eval", *epochs), work, [10, 39])
    result = run(eval_command(data, reference / "support", killed / "eval", *epochs, "--log-level", "INFO"))
    assert "reusing" in result.stderr  # the validation pieces of the second kill
    assert_same_memory(reference / "eval" / "memory", killed / "eval" / "memory")
    ours = json.loads((killed / "eval" / "results.json").read_text())
    assert ours["miou"] == json.loads((reference / "eval" / "results.json").read_text())["miou"]
    assert not (killed / "eval" / ".fungi-work").exists() and "Traceback" not in result.stderr


def test_a_failed_process_stops_the_job_and_the_rerun_resumes(data, single, tmp_path):
    """Process 1 is killed mid-extraction: torchrun stops the job, process 0 says why and that the pieces
    are kept; the same command then finishes with the same bank."""
    command = bank_command(data, tmp_path / "support", "--augmentation-epochs", "10")
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    process = subprocess.Popen(
        [*launcher, *command], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    victim, deadline = None, time.time() + 120
    while victim is None and time.time() < deadline:
        time.sleep(0.05)
        for pid in os.listdir("/proc"):
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except (OSError, ValueError):
                continue
            if b"RANK=1" in environ and b"create_memory_bank.py" in cmdline:
                pieces = list((tmp_path / "support" / ".fungi-work").glob("*/e*.pth"))
                if len(pieces) >= 4:  # extraction is under way
                    victim = int(pid)
    assert victim is not None, "process 1 never got going"
    os.kill(victim, signal.SIGKILL)
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0
    assert "The job was stopped because" in output and "rerun the same command to resume" in output
    finished = len(list((tmp_path / "support" / ".fungi-work").glob("*/e*.pth")))
    assert finished >= 4
    run(command)
    reference = tmp_path / "reference"
    run(bank_command(data, reference, "--augmentation-epochs", "10"))
    assert_same_memory(reference, tmp_path / "support")
