"""The server's memory budget: one option, read from the environment, with a default derived
from the machine.

``SCATVIZ_MEMORY_BUDGET``: bytes the server may spend on transforms in flight and cached
results, e.g. ``6G``, ``512M``, ``1073741824`` (default: a quarter of the machine's RAM).
``SCATVIZ_REQUEST_BUDGET``: the most one request (one session's setting) may use (default:
half the server's budget). ``SCATVIZ_WORKERS``: transforms computed at once (default: 2, at
most the number of CPUs). ``SCATVIZ_JOB_TIMEOUT``: the shortest time limit of one transform
job, in seconds (default 120; 0: no limit); a job's limit is the larger of that and
``SCATVIZ_JOB_TIMEOUT_FACTOR`` (default 20) times its cost estimate's seconds. A job past its
limit has its worker killed and replaced (`scatviz.server.workers`).
``SCATVIZ_SIGNAL_BUDGET``: the most the decoded signals the pages hold (uploads, long
recordings, their windows and overviews: `scatviz.server.holdings`) may take together
(default: what the transforms in flight may use less one request, at least a quarter of it);
what is held is taken from the transforms' share.

>>> parse_bytes("1.5G") == 3 * 2**29
True
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from engine._costs import format_bytes

__all__ = ["ServerBudget", "parse_bytes", "machine_ram_bytes", "format_bytes"]

_UNITS = {"": 1, "B": 1, "K": 2**10, "KB": 2**10, "KIB": 2**10, "M": 2**20, "MB": 2**20,
          "MIB": 2**20, "G": 2**30, "GB": 2**30, "GIB": 2**30, "T": 2**40, "TB": 2**40,
          "TIB": 2**40}


def parse_bytes(text: str | int) -> int:
    """``"6G"``, ``"512 MiB"``, ``"1e9"`` or an int -> bytes (powers of 1024 for the units).
    Raises ValueError with the accepted forms."""
    if isinstance(text, int):
        value = text
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
        if not m or m.group(2).upper() not in _UNITS:
            raise ValueError(f"not a size in bytes: {text!r}; write e.g. 6G, 512M or "
                             f"1073741824.")
        value = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    if value <= 0:
        raise ValueError(f"a memory budget must be positive; got {text!r}.")
    return value


def machine_ram_bytes() -> int:
    """Physical memory of the machine in bytes (``/proc/meminfo``, else sysconf; 8 GiB when
    neither answers)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


@dataclass(frozen=True)
class ServerBudget:
    """The server's memory policy, in bytes.

    total: transforms in flight (every session's) plus the shared result cache;
    per_request: the most one request's peak may be; cache: the shared result cache's bound;
    workers: transforms computed at once;
    job_timeout_floor, job_timeout_factor: a job's time limit (`job_timeout`);
    signals: the decoded signals' limit (None: the default, see `signal_bytes`)."""

    total: int
    per_request: int
    cache: int
    workers: int
    job_timeout_floor: float = 120.0
    job_timeout_factor: float = 20.0
    signals: int | None = None

    @classmethod
    def from_env(cls, environ=None) -> ServerBudget:
        """The budget from ``SCATVIZ_MEMORY_BUDGET``, ``SCATVIZ_REQUEST_BUDGET`` and
        ``SCATVIZ_WORKERS`` (see the module), each with its default."""
        env = os.environ if environ is None else environ
        total = (parse_bytes(env["SCATVIZ_MEMORY_BUDGET"]) if env.get("SCATVIZ_MEMORY_BUDGET")
                 else machine_ram_bytes() // 4)
        per_request = (parse_bytes(env["SCATVIZ_REQUEST_BUDGET"])
                       if env.get("SCATVIZ_REQUEST_BUDGET") else total // 2)
        if env.get("SCATVIZ_WORKERS"):
            workers = int(env["SCATVIZ_WORKERS"])
            if workers < 1:
                raise ValueError(f"SCATVIZ_WORKERS must be at least 1; got {workers}.")
        else:
            workers = max(1, min(2, os.cpu_count() or 1))
        floor = _seconds(env, "SCATVIZ_JOB_TIMEOUT", 120.0)
        factor = _seconds(env, "SCATVIZ_JOB_TIMEOUT_FACTOR", 20.0)
        signals = (parse_bytes(env["SCATVIZ_SIGNAL_BUDGET"])
                   if env.get("SCATVIZ_SIGNAL_BUDGET") else None)
        return cls(total=total, per_request=min(per_request, total), cache=total // 8,
                   workers=workers, job_timeout_floor=floor, job_timeout_factor=factor,
                   signals=signals)

    @property
    def signal_bytes(self) -> int:
        """The most the pages' decoded signals may take together: ``signals`` when set (at
        most the in-flight share), else the in-flight share less one request, and at least a
        quarter of that share."""
        if self.signals is not None:
            return min(int(self.signals), self.in_flight)
        return max(self.in_flight - self.per_request, self.in_flight // 4)

    def job_timeout(self, estimate_s: float | None) -> float | None:
        """The time limit (s) of a job whose cost estimate is ``estimate_s`` seconds: the
        larger of the floor and factor x estimate; None when the floor is 0 (no limit).

        >>> ServerBudget(8, 4, 1, 1, job_timeout_floor=60, job_timeout_factor=10).job_timeout(9)
        90.0
        """
        if self.job_timeout_floor <= 0:
            return None
        est = max(0.0, float(estimate_s or 0.0))
        return max(float(self.job_timeout_floor), self.job_timeout_factor * est)

    @property
    def in_flight(self) -> int:
        """Bytes the transforms in flight may use together (the total less the cache)."""
        return self.total - self.cache

    def describe(self) -> str:
        limit = (f"a job stopped after {self.job_timeout_floor:g} s or "
                 f"{self.job_timeout_factor:g}x its estimate" if self.job_timeout_floor > 0
                 else "no time limit per job")
        return (f"memory budget {format_bytes(self.total)} (one request at most "
                f"{format_bytes(self.per_request)}; shared cache {format_bytes(self.cache)}; "
                f"decoded signals at most {format_bytes(self.signal_bytes)}); "
                f"{self.workers} transform(s) at once; {limit}")


def _seconds(env, name: str, default: float) -> float:
    """A non-negative number of seconds from ``env[name]`` (default when unset)."""
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, e.g. 120; got {text!r}."
                         ) from None
    if value < 0 or value != value:
        raise ValueError(f"{name} must be 0 or more seconds; got {text!r}.")
    return value
