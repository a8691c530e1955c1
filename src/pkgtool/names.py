"""Package names across ecosystems: PEP 503 normalization and PyPI <-> conda-forge names.

Most conda-forge packages of Python distributions are named like the PEP 503 normalized
distribution name (``PyYAML`` -> ``pyyaml``). The exceptions live in the versioned table
``data/conda_names.json``; each entry says where its fact comes from (the conda-forge
feedstock or package page). ``docs/mapping-sources.md`` explains how to add one.

>>> conda_name("torch"), conda_name("PyYAML"), pypi_name("pytorch"), pypi_name("numpy")
('pytorch', 'pyyaml', 'torch', 'numpy')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from packaging.utils import NormalizedName, canonicalize_name

__all__ = [
    "CondaNames",
    "NormalizedName",
    "conda_name",
    "conda_names",
    "is_conda_only",
    "normalize",
    "pypi_name",
]

FORMAT = 1
"""The ``data/conda_names.json`` format this module reads."""


def normalize(name: str) -> NormalizedName:
    """The PEP 503 normalized form of a distribution name (``Foo.Bar_baz`` -> ``foo-bar-baz``).

    Re-exports :func:`packaging.utils.canonicalize_name`.
    """
    return canonicalize_name(name)


@dataclass(frozen=True)
class CondaNames:
    """The name table: ``version`` of the data, and both directions of the mapping.

    ``to_conda`` maps a normalized PyPI name to its conda-forge package name;
    ``to_pypi`` maps a conda-forge package name (lower case) to the PyPI distribution;
    ``conda_only`` holds conda-forge names (lower case) that are no PyPI distribution, even
    where PyPI has a project of that name (``cdo``: the tool, not PyPI's bindings).
    """

    version: str
    to_conda: Mapping[NormalizedName, str]
    to_pypi: Mapping[str, str]
    conda_only: frozenset[str] = frozenset()

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> CondaNames:
        """Build from the JSON object of ``conda_names.json``; raise ``ValueError`` if bad."""
        if data.get("format") != FORMAT:
            raise ValueError(f"conda_names.json: unsupported format {data.get('format')!r}")
        entries = data.get("names")
        if not isinstance(entries, list):
            raise ValueError("conda_names.json: 'names' must be a list")
        to_conda: dict[NormalizedName, str] = {}
        to_pypi: dict[str, str] = {}
        for entry in entries:
            pypi, conda = str(entry["pypi"]), str(entry["conda"])
            to_conda.setdefault(canonicalize_name(pypi), conda)
            for name in (conda, *entry.get("also", ())):
                to_pypi.setdefault(str(name).lower(), pypi)
        only = data.get("conda_only", [])
        if not isinstance(only, list):
            raise ValueError("conda_names.json: 'conda_only' must be a list")
        conda_only = frozenset(str(entry["conda"]).lower() for entry in only)
        return cls(str(data.get("version", "")), to_conda, to_pypi, conda_only)


@cache
def conda_names() -> CondaNames:
    """The built-in table ``pkgtool/data/conda_names.json``, read once."""
    text = resources.files("pkgtool").joinpath("data/conda_names.json").read_text("utf-8")
    return CondaNames.from_dict(json.loads(text))


def conda_name(distribution: str) -> str:
    """The conda-forge package providing the PyPI ``distribution``.

    ``torch`` -> ``pytorch``, ``tables`` -> ``pytables``, ``ruamel.yaml`` ->
    ``ruamel.yaml``; any name not in the table -> its PEP 503 normalized form
    (``PyYAML`` -> ``pyyaml``), which is conda-forge's naming rule for Python packages.
    """
    key = canonicalize_name(distribution)
    return conda_names().to_conda.get(key, key)


def is_conda_only(conda_package: str) -> bool:
    """True when the conda-forge package is no PyPI distribution: listed in the table's
    ``conda_only`` (``cdo``, ``r-base``), or an R package (``r-*``, conda-forge's naming of
    CRAN packages). Such a name must never be looked up on PyPI: a project there with the
    same name is another one."""
    name = conda_package.lower()
    return name in conda_names().conda_only or name.startswith("r-")


def pypi_name(conda_package: str) -> str:
    """The PyPI distribution a conda-forge package provides.

    ``pytorch`` -> ``torch``, ``py-opencv`` -> ``opencv-python``, ``matplotlib-base`` ->
    ``matplotlib``; any name not in the table is returned unchanged.
    """
    return conda_names().to_pypi.get(conda_package.lower(), conda_package)
