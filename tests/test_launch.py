"""scripts/_launch.sh under torchrun: Ctrl-C gives status 130 and a failed rank its own status, each without
torchrun's traceback; one process runs as before."""

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300  # seconds; generous, as torchrun takes a few to start on a busy machine

pytestmark = pytest.mark.slow

# Each line is one write: torchrun runs the ranks unbuffered (python -u), so print's two writes (text, then
# newline) of two ranks can interleave.
RANK_SCRIPT = """
import os, signal, sys, time

rank, world = os.environ.get("RANK", "0"), int(os.environ.get("WORLD_SIZE", "1"))
mode, meeting = sys.argv[1], sys.argv[2]
if mode == "fail":
    # torchrun stops the others with SIGTERM once one has failed: ignored here, and no rank fails before all
    # of them ignore it, so that every rank prints its line whichever fails first
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    open(os.path.join(meeting, rank), "w").close()
    while len(os.listdir(meeting)) < world:
        time.sleep(0.05)
    sys.stderr.write(f"rank {rank}: bad input, fix it\\n")
    sys.exit(2)
if mode == "kill":
    if rank == "1":
        os.kill(os.getpid(), signal.SIGKILL)
    sys.exit(0)
try:
    sys.stdout.write(f"ready rank {rank}\\n")
    sys.stdout.flush()
    time.sleep(600)
except KeyboardInterrupt:
    sys.stderr.write(f"Interrupted rank {rank}\\n")
    sys.exit(130)
"""


def start(tmp_path: Path, mode: str, nproc: int) -> tuple[subprocess.Popen, "queue.Queue[str]"]:
    """``launch rank.py MODE`` in a shell of its own (a process group, like a terminal's job), stdout lines
    passed on through the queue, stderr into tmp_path/stderr.txt."""
    script, meeting = tmp_path / "rank.py", tmp_path / "meeting"
    script.write_text(RANK_SCRIPT)
    meeting.mkdir()
    env = dict(os.environ, PYTHON=sys.executable, NPROC=str(nproc))
    env.pop("TORCHRUN_ARGS", None)
    process = subprocess.Popen(
        ["bash", "-c", 'source scripts/_launch.sh && launch "$@"', "bash", str(script), mode, str(meeting)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr.txt").open("w"),
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    return process, lines


def finish(process: subprocess.Popen, tmp_path: Path) -> tuple[int, str]:
    try:
        status = process.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    return status, (tmp_path / "stderr.txt").read_text()


def assert_no_torchrun_traceback(stderr: str) -> None:
    for noise in ("Traceback", "SignalException", "ChildFailedError", "FAILED", "Root Cause"):
        assert noise not in stderr, stderr


@pytest.mark.parametrize("nproc", [1, 2])
def test_ctrl_c_exits_130_with_each_rank_reporting_it(tmp_path, nproc):
    process, lines = start(tmp_path, "sleep", nproc)
    ready = set()
    while len(ready) < nproc:  # every rank is in its try block: no race with the signal
        try:
            line = lines.get(timeout=TIMEOUT)
        except queue.Empty:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"the ranks did not start: {(tmp_path / 'stderr.txt').read_text()}")
        ready.add(line.strip())
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground process group
    status, stderr = finish(process, tmp_path)
    assert status == 130, stderr
    assert_no_torchrun_traceback(stderr)
    assert stderr.count("Interrupted rank") == nproc
    assert all(f"Interrupted rank {rank}\n" in stderr for rank in range(nproc)), stderr


@pytest.mark.parametrize("nproc", [1, 2])
def test_a_user_error_keeps_its_status_2_and_the_ranks_lines(tmp_path, nproc):
    process, _ = start(tmp_path, "fail", nproc)
    status, stderr = finish(process, tmp_path)
    assert status == 2, stderr
    assert_no_torchrun_traceback(stderr)
    for rank in range(nproc):
        assert f"rank {rank}: bad input, fix it" in stderr
    if nproc > 1:
        assert "torchrun: rank " in stderr and "failed first, exit status 2" in stderr


def test_a_rank_killed_by_a_signal_gives_128_plus_the_signal(tmp_path):
    process, _ = start(tmp_path, "kill", 2)
    status, stderr = finish(process, tmp_path)
    assert status == 128 + signal.SIGKILL, stderr
    assert_no_torchrun_traceback(stderr)
    assert "torchrun: rank 1 failed first, exit status -9" in stderr
