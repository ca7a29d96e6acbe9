"""Facts about the machine a run is on: free RAM, the processor, library versions, and where a result
came from (command, code version, host, times)."""

import importlib.metadata
import platform
import socket
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

from fungi_hb import __version__


def _proc_kib(path: str, field: str) -> int | None:
    """A ``field: N kB`` line of a /proc file, in bytes (Linux), else None."""
    try:
        with open(path) as lines:
            for line in lines:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def available_ram_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), else None."""
    return _proc_kib("/proc/meminfo", "MemAvailable")


def process_rss_bytes() -> int | None:
    """This process's resident memory now (Linux), else None."""
    return _proc_kib("/proc/self/status", "VmRSS")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def package_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment(device: torch.device) -> dict:
    """Versions and device, for results files."""
    return {
        "package": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "timm": package_version("timm"),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
        "cpu_threads": torch.get_num_threads(),
    }


def code_version() -> dict:
    """The git commit of this package's checkout and whether its tree had changes (None outside git)."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return {"git_commit": None, "git_dirty": None}
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_dirty": None}
    return {"git_commit": commit.stdout.strip(), "git_dirty": bool(status.stdout.strip())}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def provenance(started: str) -> dict:
    """Where a result came from: the command line, the code version, the host, start and end times (UTC)."""
    return {
        "argv": list(sys.argv),
        "cwd": str(Path.cwd()),
        "host": socket.gethostname(),
        **code_version(),
        "started": started,
        "finished": now(),
    }
