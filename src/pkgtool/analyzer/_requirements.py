"""From resolved imports to the spec's conda MatchSpecs and pip requirements.

Rules:

- a distribution goes in the conda list only when the analysing environment installed it
  from conda (its ``conda-meta`` record), or the user names it (``--conda NAME``); it is
  then written under its conda-forge name (:func:`pkgtool.names.conda_name`); everything
  else goes to pip under its distribution name;
- installed versions become pins according to ``pin``: ``exact`` (pip ``==V``, conda
  ``=V``), ``compatible`` (pip ``~=V``, PEP 440 "compatible release"; conda ``>=V,<U``
  with the same meaning) or ``none``;
- ``freeze`` adds the installed transitive dependencies (from pipdeptree), pinned exactly,
  so the environment replicates the analysing one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Collection, Iterable
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pkgtool.errors import InputError, UsageError

PIN_MODES = ("exact", "compatible", "none")


def check_pin(pin: str) -> None:
    """Raise UsageError unless ``pin`` is one of :data:`PIN_MODES`."""
    if pin not in PIN_MODES:
        raise UsageError(f"unknown pin mode {pin!r}", hint=f"use one of: {', '.join(PIN_MODES)}")


def wants_conda(distribution: str, module: str, conda: Collection[str]) -> bool:
    """True if the user asked for ``distribution`` (or its import ``module``) from conda."""
    wanted = {canonicalize_name(n) for n in conda}
    return canonicalize_name(distribution) in wanted or canonicalize_name(module) in wanted


def pip_requirement(name: str, version: str | None, pin: str) -> str:
    """``name`` pinned to ``version`` per ``pin`` as a PEP 508 string."""
    if version is None or pin == "none":
        return name
    if pin == "compatible":
        return f"{name}~={version}" if _release_length(version) >= 2 else f"{name}>={version}"
    return f"{name}=={version}"


def conda_matchspec(name: str, version: str | None, pin: str) -> str:
    """``name`` pinned to ``version`` per ``pin`` as a conda MatchSpec string
    (conda docs, "Package match specifications")."""
    if version is None or pin == "none":
        return name
    if pin == "compatible":
        upper = _compatible_upper(version)
        return f"{name}>={version},<{upper}" if upper else f"{name}>={version}"
    return f"{name}={version}"


def _release_length(version: str) -> int:
    try:
        return len(Version(version).release)
    except InvalidVersion:
        return 0


def _compatible_upper(version: str) -> str | None:
    """The exclusive upper bound of PEP 440 ``~=version``: 1.2.3 -> 1.3, 1.2 -> 2."""
    try:
        release = Version(version).release
    except InvalidVersion:
        return None
    if len(release) < 2:
        return None
    head = list(release[:-1])
    head[-1] += 1
    return ".".join(str(p) for p in head)


def frozen_dependencies(
    distributions: Iterable[str], python: Path | None = None
) -> list[tuple[str, str]]:
    """``(name, installed version)`` of every installed distribution the given ones need,
    directly or transitively, in ``python``'s environment (default: the running one;
    pipdeptree ``--json-tree``).

    The given distributions themselves are included. Sorted by normalized name.

    Raises:
        InputError: pipdeptree cannot run or answers something unreadable.
    """
    names = sorted({canonicalize_name(d) for d in distributions})
    if not names:
        return []
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipdeptree",
            "--json-tree",
            "--packages",
            ",".join(names),
            *(["--python", str(python)] if python is not None else []),
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    try:
        tree = json.loads(proc.stdout)
    except ValueError:
        raise InputError(
            f"pipdeptree failed: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}",
            hint="run without --freeze, or check the installed distributions with pip check",
        ) from None
    found: dict[str, tuple[str, str]] = {}
    stack = list(tree)
    while stack:
        node = stack.pop()
        key = canonicalize_name(node["package_name"])
        version = node.get("installed_version")
        if key in found or not version or version == "?":
            continue
        found[key] = (node["package_name"], str(version))
        stack.extend(node.get("dependencies", []))
    return [found[k] for k in sorted(found)]
