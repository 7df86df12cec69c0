"""What the benchmarks read of a process from ``/proc`` (Linux only): one helper for the
probes that measure a call's growth (``VmHWM`` after it over ``VmRSS`` before it).

Import it from a benchmark run as ``python benchmarks/X.py`` (its folder is then on
``sys.path``): ``from _proc import reset_peak, status``.
"""

from __future__ import annotations


def status(key: str, pid: int | str = "self") -> int:
    """The ``key:`` line of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``, ...), in bytes (the
    file gives kB)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(f"{key} not in /proc/{pid}/status")


def reset_peak() -> None:
    """Reset this process's peak resident size: ``VmHWM := VmRSS`` (``ru_maxrss`` cannot be
    reset)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
