"""What the numbers were measured on: hardware, software, and how busy the machine was."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("duckdb", "pandas", "numpy", "pyarrow", "catboost", "pydantic", "fastapi", "uvicorn", "httpx")
REPO_ROOT = Path(__file__).resolve().parents[1]


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def fsync_ms(directory: Path, samples: int = 50) -> float:
    """Median time of a 1 KB write + fsync where the benchmark's DuckDB files live.

    Every DuckDB commit ends with one fdatasync of its WAL (measured with strace), so this is the
    floor under a durable single-row write on this disk.
    """
    times = []
    with tempfile.NamedTemporaryFile(dir=directory) as handle:
        for _ in range(samples):
            handle.write(b"x" * 1024)
            handle.flush()
            started = time.perf_counter()
            os.fsync(handle.fileno())
            times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 3)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # reads git state, never changes it
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def describe(workdir: Path) -> dict[str, Any]:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": affinity,
        "memory_gb": _memory_gb(),
        "python": sys.version.split()[0],
        "packages": {name: _version(name) for name in PACKAGES},
        "git_commit": _git_commit(),
        "fsync_ms_median": fsync_ms(workdir),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
