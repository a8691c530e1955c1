"""Write one ``.conda`` package from a staged directory: ``info/`` metadata and the archive.

Shared by the interpreter packager (:mod:`pkgtool.builder._pypkg`) and the wheel packager
(:mod:`pkgtool.builder._wheelpkg`). The metadata follows the conda package specification
(https://docs.conda.io/projects/conda-build/en/stable/resources/package-spec.html):

- ``info/index.json``: name, version, build, build_number, depends, subdir, timestamp (ms).
- ``info/paths.json`` (``paths_version`` 1): per file ``_path`` (relative, ``/``-separated),
  ``path_type`` (``hardlink`` or ``softlink``), ``sha256``, ``size_in_bytes`` and, for files
  that embed a prefix, ``prefix_placeholder`` plus ``file_mode: "text"``.
- ``info/has_prefix``: the same placeholders, one ``<placeholder> <mode> <path>`` per line.
- ``info/files``: every payload path, one per line.
- ``info/link.json`` for ``noarch: python`` packages (entry points).

The archive is written by ``conda_package_handling.api.create`` (the ``.conda`` v2 format:
a stored zip holding ``metadata.json``, ``pkg-*.tar.zst`` and ``info-*.tar.zst``). Payload
files are sorted and get one fixed mtime and mode 0755 or 0644, cph writes them owned by 0:0
with empty names, and the zip members get a fixed date, so the same staged tree gives the same
bytes whatever the builder's umask, user and clock.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NewType

NormalizedName = NewType("NormalizedName", str)

#: The text placeholder conda-build writes for "the install prefix" (conda-build
#: ``conda_build/utils.py``, ``prefix_placeholder``); conda and rattler replace it on link.
PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"

#: zstd level of the payload. Measured on the host python and numpy packages: level 19 (cph's
#: default) took 14 s each instead of 2.0 and 1.4 s for packages ~12 % smaller (11.6 vs 13.3 MB).
_ZSTD_LEVEL = 10
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def normalize_name(name: str) -> NormalizedName:
    """Return the PEP 503 normalized form of a distribution name (``PyYAML`` -> ``pyyaml``)."""
    return NormalizedName(re.sub(r"[-_.]+", "-", name).lower())


def subdir_for_machine(machine: str) -> str | None:
    """Map a Linux machine name (``uname -m``: ``x86_64``) to a conda subdir, or None."""
    return {
        "x86_64": "linux-64",
        "aarch64": "linux-aarch64",
        "ppc64le": "linux-ppc64le",
        "s390x": "linux-s390x",
        "i686": "linux-32",
    }.get(machine)


@dataclass(frozen=True)
class PackageMeta:
    """What ``info/index.json`` says about a package (conda package spec, "info/index.json").

    ``timestamp`` is in milliseconds since the epoch; ``noarch`` is ``"python"`` or None;
    ``entry_points`` are ``"name = module:func"`` strings for ``info/link.json``.
    """

    name: str
    version: str
    build: str
    subdir: str
    depends: tuple[str, ...]
    timestamp: int
    noarch: str | None = None
    entry_points: tuple[str, ...] = ()
    license: str | None = None
    summary: str | None = None

    @property
    def filename(self) -> str:
        """``<name>-<version>-<build>.conda``."""
        return f"{self.name}-{self.version}-{self.build}.conda"


def payload_files(stage: Path) -> list[str]:
    """Every file and symlink under ``stage`` except ``info/``, as sorted relative paths."""
    found: list[str] = []
    for root, dirs, files in os.walk(stage):
        rel_root = Path(root).relative_to(stage)
        if rel_root == Path("."):
            dirs[:] = [d for d in dirs if d != "info"]
        for name in files:
            found.append((rel_root / name).as_posix())
        for name in dirs:
            if Path(root, name).is_symlink():
                found.append((rel_root / name).as_posix())
    return sorted(found)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def paths_entries(
    stage: Path, files: Sequence[str], text_prefix: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Build the ``paths`` list of ``info/paths.json`` for ``files`` (relative to ``stage``).

    ``text_prefix`` maps a relative path to the prefix placeholder its text embeds. Symlinks
    are ``softlink`` entries carrying the hash and size of their target, as conda-build does.
    """
    entries: list[dict[str, Any]] = []
    for rel in files:
        path = stage / rel
        entry: dict[str, Any] = {"_path": rel}
        if path.is_symlink():
            entry["path_type"] = "softlink"
            if not path.exists():
                entries.append(entry)
                continue
        else:
            entry["path_type"] = "hardlink"
        if rel in text_prefix:
            entry["file_mode"] = "text"
            entry["prefix_placeholder"] = text_prefix[rel]
        entry["sha256"] = sha256_file(path)
        entry["size_in_bytes"] = path.stat().st_size
        entries.append(entry)
    return entries


def content_hash(entries: Sequence[Mapping[str, Any]], *extra: str) -> str:
    """First 8 hex digits of a sha256 over paths, hashes and ``extra`` strings (build ids)."""
    digest = hashlib.sha256()
    for item in extra:
        digest.update(item.encode() + b"\0")
    for entry in entries:
        digest.update(f"{entry['_path']}\0{entry.get('sha256')}\0".encode())
    return digest.hexdigest()[:8]


def write_package(
    stage: Path,
    meta: PackageMeta,
    entries: Sequence[Mapping[str, Any]],
    out_dir: Path,
) -> Path:
    """Write ``info/`` into ``stage`` and create ``out_dir/<meta.filename>`` atomically.

    ``entries`` is the ``paths`` list from :func:`paths_entries`. Returns the package path.
    """
    info = stage / "info"
    info.mkdir(exist_ok=True)
    index: dict[str, Any] = {
        "arch": None if meta.subdir == "noarch" else _arch(meta.subdir),
        "build": meta.build,
        "build_number": 0,
        "depends": list(meta.depends),
        "license": meta.license or "",
        "name": meta.name,
        "platform": None if meta.subdir == "noarch" else "linux",
        "subdir": meta.subdir,
        "timestamp": meta.timestamp,
        "version": meta.version,
    }
    if meta.noarch:
        index["noarch"] = meta.noarch
    _write_json(info / "index.json", index)
    _write_json(info / "paths.json", {"paths": list(entries), "paths_version": 1})
    (info / "files").write_text("".join(f"{e['_path']}\n" for e in entries), encoding="utf-8")
    with_prefix = [e for e in entries if "prefix_placeholder" in e]
    if with_prefix:
        (info / "has_prefix").write_text(
            "".join(
                f"{_quote(e['prefix_placeholder'])} {e['file_mode']} {_quote(e['_path'])}\n"
                for e in with_prefix
            ),
            encoding="utf-8",
        )
    if meta.noarch == "python":
        _write_json(
            info / "link.json",
            {
                "noarch": {"type": "python", "entry_points": list(meta.entry_points)},
                "package_metadata_version": 1,
            },
        )
    about = {"summary": meta.summary or "", "license": meta.license or ""}
    _write_json(info / "about.json", about)

    info_files = sorted(f"info/{p.name}" for p in info.iterdir())
    files = [str(e["_path"]) for e in entries] + info_files
    _fix_mtimes(stage, files, meta.timestamp // 1000)
    _fix_modes(stage, files)
    return _create(stage, files, meta.filename, out_dir)


def _create(stage: Path, files: list[str], filename: str, out_dir: Path) -> Path:
    from conda_package_handling import api as cph

    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out_dir))
    try:
        cph.create(
            str(stage),
            files,
            filename,
            out_folder=str(tmp),
            compression_level=_ZSTD_LEVEL,
            compression_threads=os.cpu_count() or 1,
        )
        fixed = tmp / f"fixed-{filename}"
        _fix_zip_dates(tmp / filename, fixed)
        target = out_dir / filename
        os.replace(fixed, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _fix_zip_dates(src: Path, dest: Path) -> None:
    """Copy a stored zip with every member dated 1980-01-01 (cph stamps the current time)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_STORED) as zout:
        for item in zin.infolist():
            member = zipfile.ZipInfo(item.filename, date_time=_ZIP_DATE)
            member.external_attr = 0o644 << 16
            with zin.open(item) as rd, zout.open(member, "w", force_zip64=True) as wr:
                shutil.copyfileobj(rd, wr, 1 << 20)


def _fix_mtimes(stage: Path, files: Sequence[str], mtime: int) -> None:
    for rel in files:
        os.utime(stage / rel, (mtime, mtime), follow_symlinks=False)


def _fix_modes(stage: Path, files: Sequence[str]) -> None:
    """Modes 0755 (any execute bit) or 0644, as the archive layer writes them: the staged
    files' modes come from the builder's umask and the source installation, and the package's
    bytes (its sha256 in a lock) must not. cph already writes owner 0:0 with empty names."""
    for rel in files:
        path = stage / rel
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        os.chmod(path, 0o755 if mode & 0o111 else 0o644)


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _quote(text: str) -> str:
    return f'"{text}"' if " " in text else text


def _arch(subdir: str) -> str:
    arch = subdir.split("-", 1)[1]
    return {"64": "x86_64", "32": "x86"}.get(arch, arch)
