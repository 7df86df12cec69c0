"""Images coloured on the server: a figure's image drawn from RGBA pixels, with the values
kept beside them for the hover, and a colour mapper that only the colour bar reads.

BokehJS colour-maps an ``image`` glyph in JavaScript, pixel by pixel, whenever its data or
its mapper's ``low``/``high`` change: a dashboard update that sends new data and a new colour
range mapped each image two or three times, ~13 ms of the browser's main thread per change
for the dashboard's ~60,000 pixels (measured in the page, `benchmarks/bench_dashboard.py`'s
browser with the ImageView hooked), where numpy maps them once in well under 1 ms. The same
mapping as Bokeh's `LinearColorMapper`, so the colour bar beside the image reads true.
"""

from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, LinearColorMapper

__all__ = ["ServerImage", "colour_map", "palette_rgba"]


def palette_rgba(colours, alpha: int = 255) -> np.ndarray:
    """``"#rrggbb"`` colours as RGBA pixels: ``uint32`` whose bytes in memory are R, G, B, A
    (what Bokeh's ``image_rgba`` reads)."""
    rgba = np.empty((len(colours), 4), dtype=np.uint8)
    for i, c in enumerate(colours):
        c = c.lstrip("#")
        if len(c) != 6:
            raise ValueError(f"expected a colour '#rrggbb'; got {colours[i]!r}")
        rgba[i] = int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16), alpha
    return rgba.view(np.uint32).ravel()


def colour_map(values: np.ndarray, lut: np.ndarray, low: float, high: float,
               nan_rgba: int = 0) -> np.ndarray:
    """RGBA pixels (``uint32``, the shape of ``values``) of ``values`` coloured as Bokeh's
    `LinearColorMapper` with the palette ``lut`` (`palette_rgba`) colours them: ``len(lut)``
    equal bins over ``[low, high]``, ``high`` in the last, values outside clamped to the end
    colours, NaN as ``nan_rgba`` (transparent by default)."""
    v = np.asarray(values, dtype=np.float32)
    n = len(lut)
    span = float(high) - float(low)
    scale = n / span if span > 0 else 0.0
    with np.errstate(invalid="ignore"):
        key = (v - np.float32(low)) * np.float32(scale)
        np.floor(key, out=key)
        np.clip(key, 0, n - 1, out=key)
    nan = np.isnan(key)
    if nan.any():
        key[nan] = 0
    out = lut[key.astype(np.intp)]
    if nan.any():
        out[nan] = nan_rgba
    return out


class ServerImage:
    """One image on ``fig``, coloured here and drawn by ``image_rgba``.

    ``source.data`` holds ``image`` (RGBA pixels), ``value`` (the float values, for a hover's
    ``@value``), ``x``, ``y``, ``dw``, ``dh``; ``mapper`` is the `LinearColorMapper` for a
    `ColorBar` (its ``low``/``high`` follow `draw` and `recolour`, its palette is the
    image's).

    >>> from bokeh.plotting import figure
    >>> im = ServerImage(figure(), ["#000000", "#ffffff"], low=0, high=1)
    >>> im.draw(np.array([[0.2, 0.9]], np.float32), dw=2, dh=1)
    >>> im.source.data["image"][0].view(np.uint8).reshape(2, 4)[:, 0].tolist()
    [0, 255]
    """

    def __init__(self, fig, palette, low: float = 0.0, high: float = 1.0,
                 transparent_nan: bool = False, **glyph):
        self.lut = palette_rgba(palette)
        self.nan_rgba = 0 if transparent_nan else int(palette_rgba(["#808080"])[0])
        self.mapper = LinearColorMapper(palette=list(palette), low=low, high=high,
                                        nan_color=(0, 0, 0, 0) if transparent_nan else "gray")
        self.values = np.zeros((1, 1), np.float32)
        self.source = ColumnDataSource(data=dict(image=[self._rgba()], value=[self.values],
                                                 x=[0.0], y=[0.0], dw=[1.0], dh=[1.0]))
        self.renderer = fig.image_rgba(image="image", x="x", y="y", dw="dw", dh="dh",
                                       source=self.source, **glyph)

    def _rgba(self) -> np.ndarray:
        return colour_map(self.values, self.lut, self.mapper.low, self.mapper.high,
                          self.nan_rgba)

    def draw(self, values: np.ndarray, x: float = 0.0, y: float = 0.0, dw: float = 1.0,
             dh: float = 1.0, low: float | None = None, high: float | None = None) -> None:
        """Show ``values`` ``(H, W)`` (row 0 at the bottom) over ``[x, x + dw]`` by
        ``[y, y + dh]``, coloured over ``[low, high]`` (default: the current range)."""
        self.values = np.ascontiguousarray(values, dtype=np.float32)
        self._set_range(low, high)
        self.source.data = dict(image=[self._rgba()], value=[self.values], x=[float(x)],
                                y=[float(y)], dw=[float(dw)], dh=[float(dh)])

    def recolour(self, low: float, high: float) -> None:
        """The same values over a new colour range: only the pixels are sent."""
        if (float(low), float(high)) == (self.mapper.low, self.mapper.high):
            return
        self._set_range(low, high)
        self.source.data["image"] = [self._rgba()]      # that column alone is sent

    def _set_range(self, low, high) -> None:
        low = self.mapper.low if low is None else float(low)
        high = self.mapper.high if high is None else float(high)
        if (low, high) != (self.mapper.low, self.mapper.high):
            self.mapper.update(low=low, high=high)
