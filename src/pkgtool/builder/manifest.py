"""The manifest embedded in every archive, at :data:`MANIFEST_PATH` inside the prefix.

JSON object (pretty-printed, one top-level key per line, so the POSIX runner can read the
``platform`` and ``glibc`` strings with sed)::

    {
      "format": 1,
      "pkgtool_version": "0.1.0",
      "platform": "linux-64",          # conda subdir the archive runs on
      "python": "3.11.7",
      "glibc": "2.17",                 # oldest glibc the node may have, or null
      "verified_imports": ["numpy", ...],
      "code_files": ["helpers/__init__.py", ...],
      "spec": {...},                   # the spec, format 1
      "lock": {...}                    # the lock, see pkgtool.builder.lock
    }
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from pkgtool import __version__

MANIFEST_PATH = ".pkgtool/manifest.json"
"""Where the manifest lives, relative to the environment prefix (and the archive root)."""

FORMAT = 1

_CONDA_GLIBC = re.compile(r"^__glibc\s*>=\s*([0-9.]+)")
_MANYLINUX = re.compile(r"manylinux_(\d+)_(\d+)_")
_LEGACY = {"manylinux1_": "2.5", "manylinux2010_": "2.12", "manylinux2014_": "2.17"}


def glibc_floor(conda_depends: Iterable[str], wheel_files: Iterable[str]) -> str | None:
    """The newest glibc any package needs, from ``__glibc >=X`` conda dependencies and
    manylinux wheel tags (PEP 600 ``manylinux_X_Y``; PEP 513/571/599 legacy aliases).
    None when nothing states one."""
    floors: list[Version] = []
    for dep in conda_depends:
        m = _CONDA_GLIBC.match(dep.strip())
        if m:
            floors.extend(_versions([m.group(1)]))
    for name in wheel_files:
        tags = [f"{a}.{b}" for a, b in _MANYLINUX.findall(name)]
        tags += [v for tag, v in _LEGACY.items() if tag in name]
        # A compressed tag set (PEP 425) runs wherever any one tag does: the lowest counts.
        oldest = _versions(tags)
        if oldest:
            floors.append(min(oldest))
    return str(max(floors)) if floors else None


def _versions(texts: Iterable[str]) -> list[Version]:
    out: list[Version] = []
    for text in texts:
        try:
            out.append(Version(text))
        except InvalidVersion:
            continue
    return out


def build_manifest(
    *,
    platform: str,
    python: str,
    glibc: str | None,
    verified_imports: Sequence[str],
    code_files: Sequence[str],
    spec: dict[str, Any],
    lock: dict[str, Any],
) -> dict[str, Any]:
    """The manifest object (see module docstring)."""
    return {
        "format": FORMAT,
        "pkgtool_version": __version__,
        "platform": platform,
        "python": python,
        "glibc": glibc,
        "verified_imports": list(verified_imports),
        "code_files": list(code_files),
        "spec": spec,
        "lock": lock,
    }


def write_manifest(prefix: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest`` to ``prefix / MANIFEST_PATH``."""
    path = prefix / MANIFEST_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
