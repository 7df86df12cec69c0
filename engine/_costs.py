"""What a transform will cost, said before it runs.

`Cost` is the value that the transforms' cost models return (``engine.estimate_cost`` and
the transforms' ``estimate_cost`` methods); `BudgetError` is what they raise when a memory
budget cannot hold a configuration. Both live here, apart from the models, so that every
layer (the engine, the dashboard's server, the feature extractor) can name them without
importing a transform.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BudgetError", "Cost", "format_bytes"]


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``: bytes as a person reads them."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Cost:
    """The predicted cost of one forward call.

    peak_bytes : int
        Peak working memory of the call in bytes: what the process grows by while it runs,
        the output included, the input and the transform's own filters excluded.
    output_bytes : int
        Size of the output tensor(s) in bytes.
    output_shape : tuple
        Shape of the output (for dict outputs, the shape of the stacked channels).
    seconds : float
        Estimated wall time on the calling machine's CPU (a rough figure: a factor of two
        either way is normal; it is for refusing or splitting work, not for benchmarks).
    budget_bytes : int | None
        The working-memory budget the estimate assumes (None: unbounded).
    """

    peak_bytes: int
    output_bytes: int
    output_shape: tuple
    seconds: float
    budget_bytes: int | None = None

    def __str__(self) -> str:
        return (f"peak {format_bytes(self.peak_bytes)}, output {format_bytes(self.output_bytes)}"
                f" {tuple(self.output_shape)}, about {self.seconds:.2g} s")


class BudgetError(ValueError):
    """A memory budget too small for a configuration, or a length that no budget can handle.

    ``minimum_bytes`` is the smallest budget that would work (None when none would).
    """

    def __init__(self, message: str, minimum_bytes: int | None = None):
        super().__init__(message)
        self.minimum_bytes = minimum_bytes
