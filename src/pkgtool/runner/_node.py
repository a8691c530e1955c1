"""Does this node run the environment? Checked once, on the cold path, from the manifest.

The builder writes ``<prefix>/.pkgtool/manifest.json`` pretty-printed (``json.dumps(indent=2)``)
so that the POSIX runner can read its two top-level string values with ``sed``:

- ``platform``: the conda subdir (``linux-64``, ``linux-aarch64``, ``osx-arm64``, ``noarch``);
  its operating system and machine must match ``uname -s`` and ``uname -m``;
- ``glibc``: the oldest glibc the environment runs on (``"2.17"``) or ``null``; on Linux the
  node's glibc (``confstr(_CS_GNU_LIBC_VERSION)``, ``getconf GNU_LIBC_VERSION``) must not be
  older. A node without glibc (musl) is refused when a floor is set.

A missing manifest, an unknown subdir or an unparsable version skips the corresponding check.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from pkgtool.errors import RunnerError

MANIFEST = ".pkgtool/manifest.json"
"""Path of the manifest inside a prefix (relative, POSIX separators)."""

_SYSTEMS = {"linux": "Linux", "osx": "Darwin", "win": "Windows"}
_MACHINES = {
    "linux-64": ("x86_64",),
    "linux-32": ("i386", "i486", "i586", "i686"),
    "linux-aarch64": ("aarch64", "arm64"),
    "linux-armv7l": ("armv7l",),
    "linux-ppc64le": ("ppc64le",),
    "linux-s390x": ("s390x",),
    "linux-riscv64": ("riscv64",),
    "osx-64": ("x86_64", "arm64"),  # arm64 Macs run x86_64 code through Rosetta 2
    "osx-arm64": ("arm64",),
}
_VERSION = re.compile(r"([0-9]+)\.([0-9]+)")


def check_node(prefix: Path, archive: Path) -> None:
    """Raise :class:`RunnerError` when the manifest says this node cannot run ``prefix``."""
    manifest = _read_manifest(prefix / MANIFEST)
    platform = manifest.get("platform")
    glibc = manifest.get("glibc")
    uname = os.uname()
    if isinstance(platform, str):
        _check_platform(platform, uname.sysname, uname.machine, archive)
    if isinstance(glibc, str) and uname.sysname == "Linux":
        _check_glibc(glibc, _node_glibc(), archive)


def _read_manifest(path: Path) -> dict[str, object]:
    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise RunnerError(
            f"cannot read the manifest {path}: {exc}", hint="rebuild the archive with pkg create"
        ) from exc
    return data if isinstance(data, dict) else {}


def _check_platform(platform: str, sysname: str, machine: str, archive: Path) -> None:
    system = _SYSTEMS.get(platform.split("-", 1)[0])
    machines = _MACHINES.get(platform)
    if (system and system != sysname) or (machines and machine not in machines):
        raise RunnerError(
            f"{archive} is built for {platform}, but this node is {sysname} {machine}",
            hint="build the environment for this node's platform",
        )


def _node_glibc() -> str:
    try:
        found = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        found = None
    return (found or "").replace("glibc", "").strip()


def _check_glibc(floor: str, node: str, archive: Path) -> None:
    wanted = _VERSION.match(floor)
    if wanted is None:
        return
    have = _VERSION.match(node)
    if have is None:
        raise RunnerError(
            f"{archive} needs glibc >= {floor}, but this node has no glibc",
            hint="run it on a glibc-based Linux node",
        )
    if tuple(map(int, have.groups())) < tuple(map(int, wanted.groups())):
        raise RunnerError(
            f"{archive} needs glibc >= {floor}, but this node has glibc {node}",
            hint="run it on a newer node, or build against an older glibc floor",
        )
