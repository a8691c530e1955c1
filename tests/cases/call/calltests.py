"""Functions the pkg call tests call inside the built environment (bundled as code)."""

from __future__ import annotations

import pathlib

import numpy as np
import temperature


def summarize(
    samples: np.ndarray, weights: np.ndarray, config: dict, label: str = "run"
) -> tuple[float, np.ndarray, dict]:
    """numpy (.npy, .npz) and yaml inputs; a tuple of three returns."""
    scaled = samples * config["scale"]
    total = float((scaled * weights).sum())
    return total, scaled, {"label": label, "n": int(samples.size), "keys": sorted(config)}


def warm(reading: temperature.Temperature, by: float) -> temperature.Temperature:
    """The custom packager's type in and out."""
    return temperature.Temperature(reading.kelvin + by)


def count(n: int, marker: pathlib.Path) -> int:
    """Leaves ``marker`` behind when called: a bad input must stop before this runs."""
    marker.write_text("called\n")
    return n


def fails(rows: int) -> int:
    raise RuntimeError(f"cannot handle {rows} rows")
