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
      "spec": {...},                   # the spec without its code section, format 1
      "lock": {...}                    # the lock, see pkgtool.builder.lock
    }

The manifest belongs to the environment layer and says nothing of the code (format 2; format
1, pkgtool 0.1, also had ``code_files``): the code layer carries its own manifest,
``pkgtool-code/.pkgtool-code.json`` (:mod:`pkgtool.builder.code`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pkgtool import __version__

MANIFEST_PATH = ".pkgtool/manifest.json"
"""Where the manifest lives, relative to the environment prefix (and the archive root)."""

FORMAT = 2


def build_manifest(
    *,
    platform: str,
    python: str,
    glibc: str | None,
    verified_imports: Sequence[str],
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
        "spec": spec,
        "lock": lock,
    }


def write_manifest(prefix: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest`` to ``prefix / MANIFEST_PATH``."""
    path = prefix / MANIFEST_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
