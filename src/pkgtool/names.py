"""Distribution and conda package names (placeholder until the conda-forge name table lands)."""

from __future__ import annotations

from packaging.utils import canonicalize_name


def conda_name(distribution: str) -> str:
    """The conda-forge package name of a PyPI distribution (default: PEP 503 normalized)."""
    return str(canonicalize_name(distribution))


def pypi_name(conda_package: str) -> str:
    """The PyPI distribution name of a conda-forge package (default: the same name)."""
    return conda_package
