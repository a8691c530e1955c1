"""The oldest glibc an environment runs on, from what its ELF files reference.

A dynamically linked ELF file lists, in its ``.gnu.version_r`` section, the symbol versions
it needs from each shared library (``GLIBC_2.17``, ``GLIBC_2.34``, ...; System V ABI, LSB
"Symbol Versioning"). The newest ``GLIBC_x.y`` any file of the environment needs is the
oldest glibc a node may have — the rule auditwheel applies to wheels (PEP 600). Read with
pyelftools.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

_GLIBC = re.compile(r"^GLIBC_(\d+)\.(\d+)(?:\.(\d+))?$")


def glibc_needed(path: Path) -> tuple[int, ...] | None:
    """The newest ``GLIBC_x.y[.z]`` version ``path`` needs, as a tuple, or None (not ELF,
    statically linked, or needing no versioned glibc symbol)."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerNeedSection

    try:
        with path.open("rb") as fh:
            if fh.read(4) != b"\x7fELF":
                return None
            fh.seek(0)
            elf = ELFFile(fh)
            newest: tuple[int, ...] | None = None
            section = elf.get_section_by_name(".gnu.version_r")
            if isinstance(section, GNUVerNeedSection):
                for _, auxiliaries in section.iter_versions():
                    for aux in auxiliaries:
                        m = _GLIBC.match(aux.name)
                        if m:
                            version = tuple(int(g) for g in m.groups() if g is not None)
                            newest = max(newest or version, version)
            return newest
    except (OSError, ELFError, ValueError, KeyError):
        return None


def glibc_floor(files: Iterable[Path]) -> str | None:
    """The newest glibc version any of ``files`` needs (``"2.17"``), or None."""
    found = [v for v in map(glibc_needed, files) if v is not None]
    return ".".join(map(str, max(found))) if found else None


def elf_candidates(prefix: Path, paths: Iterable[str] | None = None) -> list[Path]:
    """Regular files under ``prefix`` (or the given relative ``paths``) that may be ELF:
    shared objects and files with an executable bit, skipping symlinks and text suffixes."""
    if paths is None:
        paths = (
            os.path.relpath(os.path.join(d, f), prefix)
            for d, _, files in os.walk(prefix)
            for f in files
        )
    out = []
    for rel in paths:
        path = prefix / rel
        if rel.endswith((".py", ".pyc", ".pyi", ".txt", ".json", ".h", ".md")):
            continue
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if not os.path.isfile(path) or os.path.islink(path):
            continue
        if ".so" in path.name or st.st_mode & 0o111:
            out.append(path)
    return sorted(out)
