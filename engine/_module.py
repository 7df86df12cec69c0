"""What the engine's transforms share as modules: exact float64 plans and input validation."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class PlannedTransform(nn.Module):
    """An ``nn.Module`` whose filter plans are float arrays designed in float64 numpy.

    Plans are registered as non-persistent buffers (float32 by default: derived from the
    constructor's arguments, they need no checkpoint). ``.double()`` (or
    ``.to(torch.float64)``) gives their exact float64 values, not upcast float32 ones;
    ``.to(device)`` moves them as any buffer. The exact values come from one of:

    * a *recipe* (``register_plan(..., recipe=(method, args, key))``): nothing float64 is
      kept; a cast to float64 calls ``getattr(self, method)(*args)`` again (``[key]`` of
      its result unless ``key`` is None), which must give the same array bit for bit (a
      deterministic design from what the module keeps anyway, e.g. its compact filter bank);
    * otherwise its float64 master, kept in ``_masters``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._masters: dict[str, np.ndarray] = {}
        self._recipes: dict[str, tuple] = {}

    def register_plan(self, name: str, array: np.ndarray, recipe: tuple | None = None
                      ) -> str:
        """Register float ``array`` as buffer ``name``; returns ``name``. With ``recipe``
        ``(method, args, key)`` (``args`` a hashable tuple) the float64 array is rebuilt on
        a cast to float64 instead of kept (see the class docstring)."""
        array = np.ascontiguousarray(array, dtype=np.float64)
        if recipe is None:
            self._masters[name] = array
        else:
            method, args, key = recipe
            self.__dict__.setdefault("_recipes", {})[name] = (method, tuple(args), key)
        self.register_buffer(name, torch.as_tensor(array).to(torch.get_default_dtype()),
                             persistent=False)
        return name

    def is_plan(self, name: str) -> bool:
        """Whether buffer ``name`` is a plan (`register_plan`)."""
        return name in self._masters or name in self.__dict__.get("_recipes", {})

    def exact_plan(self, name: str) -> np.ndarray:
        """The exact float64 values of plan ``name``: its master, or its recipe's result."""
        if name in self._masters:
            return self._masters[name]
        method, args, key = self.__dict__["_recipes"][name]
        value = getattr(self, method)(*args)
        return np.ascontiguousarray(value if key is None else value[key], dtype=np.float64)

    def _apply(self, fn, recurse=True):
        recipes = self.__dict__.get("_recipes", {})
        exact = {n for n in recipes if self._buffers[n].dtype == torch.float64}
        super()._apply(fn, recurse)
        for name, master in self._masters.items():
            buf = getattr(self, name)
            if buf.dtype == torch.float64:
                setattr(self, name, torch.as_tensor(master, device=buf.device))
        # Recipes: rebuilt once per (method, args) in this cast, for the buffers that just
        # became float64 (those that were float64 already are exact, only moved).
        made: dict = {}
        for name, (method, args, key) in recipes.items():
            buf = self._buffers[name]
            if buf.dtype != torch.float64 or name in exact:
                continue
            if key is None:
                value = getattr(self, method)(*args)
            else:
                if (method, args) not in made:
                    made[(method, args)] = getattr(self, method)(*args)
                value = made[(method, args)][key]
            value = np.ascontiguousarray(value, dtype=np.float64)
            if value.shape != tuple(buf.shape):
                raise RuntimeError(f"plan {name!r} rebuilt with shape {value.shape}, "
                                   f"registered with {tuple(buf.shape)}")
            self._buffers[name] = torch.as_tensor(value, device=buf.device)
        return self


def check_signal(x, length: int, ref: torch.Tensor) -> torch.Tensor:
    """Validate a batch of signals ``(..., length)`` for a transform whose plans are ``ref``.

    Accepts a torch tensor or a numpy array of real numbers (numpy is converted to the
    transform's dtype and device). Raises `TypeError`/`ValueError` that say what was wrong and
    how to fix it: not an array, complex or integer values, a dtype or device that differs from
    the transform's, a last dimension other than ``length``, an empty batch, NaN or inf.
    """
    dtype = ref.dtype
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "fiu":
            raise TypeError(f"Input must be real-valued floats; got a numpy array of "
                            f"dtype {x.dtype}. Pass np.real(x) or an amplitude.")
        x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)).to(
            device=ref.device, dtype=dtype)
    elif not torch.is_tensor(x):
        raise TypeError(f"Input must be a torch tensor or a numpy array; got "
                        f"{type(x).__name__}.")
    if x.is_complex():
        raise TypeError("Input must be real; got a complex tensor. Scatter x.real and "
                        "x.imag separately, or the modulus.")
    if not x.is_floating_point():
        raise TypeError(f"Input must be a floating-point tensor; got {x.dtype}. Convert "
                        f"with x.float() (or x.double() for a .double() transform).")
    if x.dtype != dtype:
        raise TypeError(f"Input dtype {x.dtype} does not match the transform's {dtype}. "
                        f"Convert the input with x.to({dtype}) or the transform with "
                        f".to({x.dtype}).")
    if x.device != ref.device:
        raise ValueError(f"Input is on {x.device} but the transform is on {ref.device}; "
                         f"move one of them with .to(device).")
    if x.ndim < 1:
        raise ValueError(f"Input must have at least one axis, the time axis of length "
                         f"{length}; got a 0-d tensor. Pass x of shape (..., {length}).")
    if x.shape[-1] != length:
        got = x.shape[-1]
        raise ValueError(f"Input's last dimension must be the signal length shape={length}; "
                         f"got an input of shape {tuple(x.shape)}. Build the transform with "
                         f"shape={got} or crop/pad the signal.")
    if x.numel() == 0:
        raise ValueError(f"Input batch is empty (shape {tuple(x.shape)}); pass at least one "
                         f"signal.")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("Input contains NaN or inf; clean the signal first (e.g. "
                         "torch.nan_to_num) so that the scattering is defined.")
    return x
