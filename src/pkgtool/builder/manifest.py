"""The manifest embedded in every archive, at :data:`MANIFEST_PATH` inside the prefix.

JSON object (pretty-printed, one top-level key per line, so the POSIX runner can read the
``platform`` and ``glibc`` strings with sed)::

    {
      "format": 1,
      "pkgtool_version": "0.1.0",
      "platform": "linux-64",          # conda subdir the archive runs on
      "python": "3.11.7",
      "glibc": "2.17",                 # oldest glibc the node may have (from the ELF
                                       # files, pkgtool.builder.glibc), or null
      "verified_imports": ["numpy", ...],
      "code_files": ["helpers/__init__.py", ...],
      "spec": {...},                   # the spec, format 1
      "lock": {...}                    # the lock, see pkgtool.builder.lock
    }
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pkgtool import __version__

MANIFEST_PATH = ".pkgtool/manifest.json"
"""Where the manifest lives, relative to the environment prefix (and the archive root)."""

FORMAT = 1


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
