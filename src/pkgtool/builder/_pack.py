"""The only door to conda-pack: pack a prefix into a relocatable archive.

conda-pack reads the files of conda-managed packages from the package cache named in each
``conda-meta/*.json`` (``link.source``), so the rattler package cache must still exist when
:func:`pack_prefix` runs (notes, "conda-pack on a rattler prefix").
"""

from __future__ import annotations

import os
from pathlib import Path

from pkgtool.errors import BuildError

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.zst", ".tar", ".zip")
"""Output names conda-pack can infer a format from (conda-pack docs, ``--format``)."""


def archive_format(out: Path) -> str:
    """The conda-pack format for ``out`` from its suffix; ``""`` when not supported."""
    name = out.name
    for suffix in ARCHIVE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return {".tgz": "tgz", ".tbz2": "tbz2"}.get(suffix, suffix.lstrip("."))
    return ""


def pack_prefix(prefix: Path, output: Path, *, compress_level: int = 4) -> None:
    """Pack ``prefix`` into ``output`` (files at the archive root, ``bin/conda-unpack`` added).

    ``output`` must not exist; it is written with mode 0644 less the umask (conda-pack
    writes 0600). Uses all cores for gzip/bzip2 compression.

    Raises:
        BuildError: conda-pack refused the prefix or could not write the archive.
    """
    import conda_pack

    try:
        conda_pack.pack(
            prefix=str(prefix),
            output=str(output),
            format=archive_format(output),
            compress_level=compress_level,
            n_threads=os.cpu_count() or 1,
            force=False,
            ignore_missing_files=False,
        )
    except conda_pack.CondaPackException as exc:
        raise BuildError(
            f"conda-pack failed: {exc}".splitlines()[0],
            hint="a pip package may have overwritten files of a conda package; "
            "move that package to one installer in the spec",
        ) from exc
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(output, 0o666 & ~umask)
