"""A package in the src layout: installed from src/, imported as ``mypkg``."""

from __future__ import annotations

from mypkg.core import describe

__all__ = ["describe"]
