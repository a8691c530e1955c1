"""Detector-run processing steps."""

from .calibration import calibrate
from .io import load_run

__all__ = ["calibrate", "load_run"]
