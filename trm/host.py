"""What this process can learn about the machine it runs on: cores, load, threads, memory, versions.

Every probe of the host lives here, so the trainer, its benchmark and the harness agree on what
"the cores available" or "the threads worth running" mean. Probes that the platform cannot answer
(no /proc, no affinity mask) fall back to a safe value instead of failing.
"""
from __future__ import annotations

import os
import platform
import resource
import sys
from pathlib import Path
from typing import Optional


def available_cores() -> int:
    """CPUs this process may run on (its affinity mask), not the machine's total."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def loadavg() -> Optional[list[float]]:
    """The 1-, 5- and 15-minute load averages (runnable processes), or None where unknown."""
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def threads_for_load(cores: int, load: Optional[float]) -> int:
    """Threads worth running on `cores` CPUs when `load` runnable processes (1-minute load average)
    already compete for them: the cores left free, at least 1 (all `cores` when the load is unknown).

    On a shared machine a second OpenMP thread that must wait for a core stalls every parallel
    region at its barrier (we measured a bfloat16 step 8x slower with 2 threads than with 1 at a
    load of 4 on 2 cores), so threads beyond the free cores cost more than they bring.
    """
    if load is None:
        return cores
    return max(1, min(cores, round(cores - load)))


def threads_for_current_load() -> int:
    """`threads_for_load` for this process's cores at the current 1-minute load: the 'auto' policy."""
    load = loadavg()
    return threads_for_load(available_cores(), load[0] if load else None)


def threads_per_worker(workers: int) -> int:
    """Intra-op threads for each of `workers` processes sharing this process's cores (at least 1)."""
    return max(1, available_cores() // workers)


def cpu_seconds() -> float:
    """User plus system CPU seconds this process has used so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float:
    """The largest resident set this process has had so far, in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_name() -> str:
    """'cpu: <model name>' from /proc/cpuinfo, else what `platform` knows of the processor."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return "cpu: " + line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu: " + (platform.processor() or platform.machine())


def environment(device_name: str, world_size: int) -> dict:
    """The software and hardware a run used, as a run's result records it: python, torch and numpy
    versions, `device_name` (e.g. `cpu_name()` or the CUDA device's name), `world_size` processes,
    torch's intra-op threads now, and the OS platform."""
    import numpy as np
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "device": device_name, "world_size": world_size, "threads": torch.get_num_threads(),
            "platform": sys.platform}


def current_umask() -> int:
    """The process umask (reading it means setting it; it is set straight back). Files made with
    mkstemp are 0600; records and checkpoints get `0o666 & ~current_umask()`, as open() would give."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
