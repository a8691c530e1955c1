"""Helpers for the regional climate runs."""

from climkit.io import open_ensemble
from climkit.indices import heatwave_days

__version__ = "0.4.1"
__all__ = ["heatwave_days", "open_ensemble"]
