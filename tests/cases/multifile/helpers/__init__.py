"""Helpers of analysis.py: statistics and formatting."""

from helpers.util import format_result

__all__ = ["format_result"]
