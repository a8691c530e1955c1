"""Uses numpy."""

from __future__ import annotations

import numpy


def total() -> int:
    return int(numpy.arange(4).sum())
