"""A plugin in a namespace package (PEP 420: no ``__init__.py`` in ``plugins/``)."""

from __future__ import annotations

import numpy as np


def apply(values: np.ndarray, factor: float) -> np.ndarray:
    """``values`` multiplied by ``factor``."""
    return np.multiply(values, factor)
