"""Formatting helpers."""

from __future__ import annotations


def as_record(**fields: float) -> dict[str, float]:
    """The fields as a plain dict of floats."""
    return {name: float(value) for name, value in fields.items()}


def format_result(result: dict[str, float]) -> str:
    """``mean=2.5 n=4``: the mean with ``%g``, the count as an integer."""
    return f"mean={result['mean']:g} n={int(result['n'])}"
