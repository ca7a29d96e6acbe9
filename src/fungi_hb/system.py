"""Facts about the machine a run is on: free RAM, the processor, library versions."""

import importlib.metadata
import platform

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
        "scann": package_version("scann"),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
        "cpu_threads": torch.get_num_threads(),
    }
