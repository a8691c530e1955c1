"""What is inside an archive, a lock or a spec, without unpacking anything to disk.

:func:`inspect_path` tells the three apart by content (a tar stream, a lock's JSON, any
spec :func:`pkgtool.spec.load_spec` accepts) and returns an :class:`Inspection`.

An archive is read as one stream, once: gzip (``.tar.gz``), zstd (``.tar.zst``, with the
``zstandard`` module, else ``compression.zstd`` or ``backports.zstd``) or plain tar. Every
regular member's size is noted; ``conda-meta/*.json`` (each conda package's ``files``
list, conda's prefix record format), ``*.dist-info/RECORD`` (pip's installed files,
PEP 376/627) and the manifest (:data:`pkgtool.builder.manifest.MANIFEST_PATH`) are read.
Each file then counts towards the one package that owns it: a conda package's files
first, then a pip distribution's ``RECORD`` entries; bytecode in ``__pycache__`` counts
towards the package of its source file; the rest is ``(other)``.

Sizes are the uncompressed bytes of regular files, as unpacked on a node (hard links
and symbolic links count 0).
"""

from __future__ import annotations

import importlib
import io
import json
import posixpath
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pkgtool._files import check_input
from pkgtool.errors import InputError

FORMAT = 1
"""Version of the ``pkg inspect --json`` object (:meth:`Inspection.to_dict`)."""

MANIFEST_PATH = ".pkgtool/manifest.json"
CODE_MANIFEST_PATH = "pkgtool-code/.pkgtool-code.json"
"""The manifest inside the archive (the same as :data:`pkgtool.builder.manifest.MANIFEST_PATH`,
repeated here so that inspecting does not import the builder)."""

OTHER = "(other)"
"""Package name of the files no conda package or pip distribution owns."""

_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"
_BZIP2 = b"BZh"
_XZ = b"\xfd7zXZ\x00"
_MAX_JSON = 64 * 2**20  # a metadata member larger than this is not metadata


@dataclass(frozen=True)
class Package:
    """One conda package or pip distribution.

    ``installer`` is ``"conda"``, ``"pip"``, or ``""`` for :data:`OTHER`. ``version`` is
    the installed version (archive, lock) or the requested constraint (spec, may be
    ``""``). ``size`` is bytes on disk once unpacked and ``files`` the number of files,
    both None when not known (lock, spec).
    """

    name: str
    version: str
    installer: str
    size: int | None = None
    files: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "installer": self.installer,
            "size": self.size,
            "files": self.files,
        }


@dataclass(frozen=True)
class Directory:
    """A directory of the unpacked archive: ``path`` relative to the prefix (POSIX),
    ``size`` the bytes of every file below it."""

    path: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size}


@dataclass(frozen=True)
class Inspection:
    """What :func:`inspect_path` found.

    ``kind`` is ``"archive"``, ``"lock"`` or ``"spec"``. Facts not known for a kind are
    None (or empty): a lock knows ``platform`` and its packages; a spec knows its
    requirements and ``channels``; an archive knows everything, from its manifest
    (``format``, ``pkgtool_version``, ``platform``, ``python``, ``glibc``,
    ``verified_imports``, ``code_files``) and its members. ``packages`` are sorted
    largest first (by name when sizes are unknown); ``directories`` are the largest
    ones, at most :data:`DIRECTORY_DEPTH` levels below the prefix or one level below a
    ``site-packages``. ``archive_size`` is the file's size in bytes, ``unpacked_size``
    and ``files`` the sum and the number of its regular files.
    """

    kind: str
    path: str
    format: int | None = None
    pkgtool_version: str | None = None
    platform: str | None = None
    python: str | None = None
    glibc: str | None = None
    channels: tuple[str, ...] = ()
    verified_imports: tuple[str, ...] = ()
    code_files: tuple[str, ...] = ()
    code_hash: str | None = None
    packages: tuple[Package, ...] = ()
    directories: tuple[Directory, ...] = ()
    archive_size: int | None = None
    unpacked_size: int | None = None
    files: int | None = None
    compression: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``pkg inspect --json`` object, ``"format": 1`` (see the man page)."""
        return {
            "format": FORMAT,
            "kind": self.kind,
            "path": self.path,
            "manifest_format": self.format,
            "pkgtool_version": self.pkgtool_version,
            "platform": self.platform,
            "python": self.python,
            "glibc": self.glibc,
            "channels": list(self.channels),
            "verified_imports": list(self.verified_imports),
            "code_files": list(self.code_files),
            "code_hash": self.code_hash,
            "compression": self.compression,
            "archive_size": self.archive_size,
            "unpacked_size": self.unpacked_size,
            "files": self.files,
            "packages": [p.to_dict() for p in self.packages],
            "directories": [d.to_dict() for d in self.directories],
        }


DIRECTORY_DEPTH = 3
"""How deep below the prefix :attr:`Inspection.directories` looks."""

DIRECTORY_COUNT = 10
"""How many directories :attr:`Inspection.directories` keeps."""


_INSPECT_HINT = "pass an archive made by `pkg create`, its .lock.json, or a spec"


def inspect_path(path: Path) -> Inspection:
    """Inspect an archive made by ``pkg create``, a lock, or a spec of any accepted kind.

    Raises:
        InputError: the file cannot be read, is a damaged or truncated archive, an
            archive without a pkgtool manifest, or not a valid lock or spec; it is not
            a regular file (a FIFO would block, a device never end).
    """
    check_input(path, "", 1 << 62, hint=_INSPECT_HINT)  # archives: no bound on size
    try:
        with path.open("rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror or exc}",
            hint="pass an archive made by `pkg create`, its .lock.json, or a spec",
        ) from exc
    compression = _compression(head)
    if compression is not None:
        return _inspect_archive(path, compression)
    if head.startswith(b"PK\x03\x04") or b"\x00" in head:
        raise InputError(
            f"{path} is not a tar archive, a lock or a spec"
            + (" (a zip file: pkg create writes tar archives)" if head[:2] == b"PK" else ""),
            hint="pass an archive made by `pkg create` (.tar.gz, .tar.zst), its .lock.json, "
            "or a spec",
        )
    if _is_lock(path, head):
        return _inspect_lock(path)
    return _inspect_spec(path)


def _compression(head: bytes) -> str | None:
    """``"gzip"``, ``"zstd"``, ``"bzip2"``, ``"xz"``, ``"none"`` (a plain tar), or None
    when ``head`` (the first 512 bytes) starts no archive."""
    for magic, name in ((_GZIP, "gzip"), (_ZSTD, "zstd"), (_BZIP2, "bzip2"), (_XZ, "xz")):
        if head.startswith(magic):
            return name
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "none"
    return None


def _is_lock(path: Path, head: bytes) -> bool:
    if path.name.endswith(".lock.json"):
        return True
    if not head.lstrip().startswith(b"{"):
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "platform" in data and isinstance(data.get("conda"), list)


# --------------------------------------------------------------------------- lock, spec


def _inspect_lock(path: Path) -> Inspection:
    from pkgtool.builder.lock import Lock

    lock = Lock.load(path)
    packages = [Package(e.name, e.version, "conda") for e in lock.conda]
    packages += [Package(d.name, d.version, "pip") for d in lock.pip]
    python = next((p.version for p in packages if p.name == "python"), None)
    return Inspection(
        kind="lock",
        path=str(path),
        platform=lock.platform or None,
        python=python,
        packages=tuple(sorted(packages, key=lambda p: p.name.lower())),
    )


def _inspect_spec(path: Path) -> Inspection:
    from packaging.requirements import Requirement

    from pkgtool.spec import load_spec, matchspec_name

    spec = load_spec(path)
    packages: list[Package] = []
    for dep in spec.dependencies:
        name = matchspec_name(dep)
        rest = dep.strip().split("::", 1)[-1][len(name) :].strip()
        packages.append(Package(name, rest, "conda"))
    for text in spec.pip:
        req = Requirement(text)
        packages.append(Package(req.name, str(req.specifier), "pip"))
    python = next((p.version for p in packages if p.name == "python" and p.version), None)
    return Inspection(
        kind="spec",
        path=str(path),
        python=python,
        channels=spec.channels,
        packages=tuple(packages),
    )


# --------------------------------------------------------------------------- archive


@dataclass
class _Scan:
    """What one pass over the tar stream collected."""

    sizes: dict[str, int] = field(default_factory=dict)
    conda_meta: list[dict[str, Any]] = field(default_factory=list)
    records: dict[str, bytes] = field(default_factory=dict)  # dist-info dir -> RECORD
    manifest: dict[str, Any] | None = None
    code: dict[str, Any] | None = None


def _inspect_archive(path: Path, compression: str) -> Inspection:
    scan = _scan_members(path, compression, manifest_only=False)
    if scan.manifest is None:
        raise InputError(
            f"{path} has no pkgtool manifest ({MANIFEST_PATH})",
            hint="inspect an archive made by `pkg create` (conda-pack archives of other "
            "tools carry no manifest)",
        )
    packages = _attribute(scan)
    m = scan.manifest
    return Inspection(
        kind="archive",
        path=str(path),
        format=_int_or_none(m.get("format")),
        pkgtool_version=_str_or_none(m.get("pkgtool_version")),
        platform=_str_or_none(m.get("platform")),
        python=_str_or_none(m.get("python")),
        glibc=_str_or_none(m.get("glibc")),
        channels=tuple(str(c) for c in (m.get("lock") or {}).get("channels", [])),
        verified_imports=tuple(str(i) for i in m.get("verified_imports", [])),
        code_files=_code_files(m, scan.code),
        code_hash=_str_or_none((scan.code or {}).get("hash")),
        packages=packages,
        directories=_directories(scan.sizes),
        archive_size=path.stat().st_size,
        unpacked_size=sum(scan.sizes.values()),
        files=len(scan.sizes),
        compression=compression,
    )


def _scan_members(path: Path, compression: str, *, manifest_only: bool) -> _Scan:
    """Every member of the archive at ``path`` visited in one streaming pass (with
    ``manifest_only``, only up to and including the manifest).

    Raises:
        InputError: not a readable tar archive (exit 3).
    """
    scan = _Scan()
    try:
        with (
            _decompressed(path, compression) as stream,
            tarfile.open(fileobj=stream, mode="r|") as tar,
        ):
            for member in tar:
                is_manifest = posixpath.normpath(member.name.lstrip("/")) == MANIFEST_PATH
                if manifest_only and not is_manifest:
                    continue
                _visit(tar, member, scan, path)
                if manifest_only:
                    break
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise InputError(
            f"{path} is not a readable tar archive: {exc}",
            hint="the file may be damaged or truncated; rebuild it with `pkg create`",
        ) from exc
    return scan


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest (:data:`MANIFEST_PATH`) of the archive ``path``, read from the stream
    up to that member only.

    Raises:
        InputError: not a readable archive, or one without a pkgtool manifest.
    """
    try:
        with path.open("rb") as fh:
            compression = _compression(fh.read(512))
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror or exc}", hint="pass an archive made by pkg create"
        ) from exc
    scan = _scan_members(path, compression or "none", manifest_only=True)
    if scan.manifest is None:
        raise InputError(
            f"{path} has no pkgtool manifest ({MANIFEST_PATH})",
            hint="pass an archive made by `pkg create`",
        )
    return scan.manifest


@contextmanager
def _decompressed(path: Path, compression: str) -> Iterator[IO[bytes]]:
    """The tar stream inside ``path``, decompressed on the fly."""
    with path.open("rb") as raw:
        if compression == "none":
            yield raw
            return
        with _opener(compression, path)(raw) as stream:
            yield stream


def _opener(compression: str, path: Path) -> Callable[[IO[bytes]], Any]:
    import bz2
    import gzip
    import lzma

    if compression == "gzip":
        return lambda raw: gzip.GzipFile(fileobj=raw, mode="rb")
    if compression == "bzip2":
        return bz2.BZ2File
    if compression == "xz":
        return lzma.LZMAFile
    try:
        import zstandard  # type: ignore[import-not-found,unused-ignore]  # optional

        return lambda raw: zstandard.ZstdDecompressor().stream_reader(raw)
    except ImportError:
        pass
    for module in ("compression.zstd", "backports.zstd"):
        try:
            zstd = importlib.import_module(module)
        except ImportError:
            continue
        return zstd.ZstdFile  # type: ignore[no-any-return]
    raise InputError(
        f"{path} is zstd-compressed and no zstd module is installed",
        hint="pip install zstandard (or use Python 3.14, which has compression.zstd)",
    )


def _visit(tar: tarfile.TarFile, member: tarfile.TarInfo, scan: _Scan, path: Path) -> None:
    name = posixpath.normpath(member.name.lstrip("/"))
    if name.startswith("./"):
        name = name[2:]
    if not member.isreg():
        return
    scan.sizes[name] = member.size
    wanted = (
        name in (MANIFEST_PATH, CODE_MANIFEST_PATH)
        or (name.startswith("conda-meta/") and name.endswith(".json") and name.count("/") == 1)
        or (name.endswith("/RECORD") and posixpath.dirname(name).endswith(".dist-info"))
    )
    if not wanted or member.size > _MAX_JSON:
        return
    handle = tar.extractfile(member)
    if handle is None:
        return
    data = handle.read()
    if name.endswith("/RECORD"):
        scan.records[posixpath.dirname(name)] = data
        return
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise InputError(
            f"{path}: {name} is not valid JSON: {exc}",
            hint="the archive is damaged; rebuild it with `pkg create`",
        ) from exc
    if not isinstance(obj, dict):
        return
    if name == MANIFEST_PATH:
        scan.manifest = obj
    elif name == CODE_MANIFEST_PATH:
        scan.code = obj
    else:
        scan.conda_meta.append(obj)


def _code_files(manifest: dict[str, Any], code: dict[str, Any] | None) -> tuple[str, ...]:
    """The bundled files: from the code layer's manifest, else (an archive of pkgtool 0.1,
    which copied code into site-packages) the manifest's ``code_files``."""
    if code is not None:
        return tuple(str(f.get("path")) for f in code.get("files", []) if isinstance(f, dict))
    return tuple(str(f) for f in manifest.get("code_files", []))


def _attribute(scan: _Scan) -> tuple[Package, ...]:
    """Sum file sizes per package (see the module docstring), largest first."""
    owner: dict[str, int] = {}
    packages: list[tuple[str, str, str]] = []
    for record in sorted(scan.conda_meta, key=lambda r: str(r.get("name", ""))):
        index = len(packages)
        packages.append((str(record.get("name", "?")), str(record.get("version", "")), "conda"))
        for file in record.get("files", []):
            owner.setdefault(posixpath.normpath(str(file)), index)
    for dist_info, data in sorted(scan.records.items()):
        if posixpath.join(dist_info, "RECORD") in owner:
            continue  # a conda package built from a wheel: already counted as conda
        stem = posixpath.basename(dist_info)[: -len(".dist-info")]
        name, _, version = stem.partition("-")
        index = len(packages)
        packages.append((name, version, "pip"))
        base = posixpath.dirname(dist_info)
        for line in io.StringIO(data.decode("utf-8", "replace")):
            file = line.rsplit(",", 2)[0] if line.count(",") >= 2 else line.strip()
            if file:
                owner.setdefault(posixpath.normpath(posixpath.join(base, file)), index)
    sizes = [0] * (len(packages) + 1)
    counts = [0] * (len(packages) + 1)
    other = len(packages)
    for file, size in scan.sizes.items():
        index = owner.get(file, owner.get(_pyc_source(file), other))
        sizes[index] += size
        counts[index] += 1
    result = [
        Package(name, version, installer, sizes[i], counts[i])
        for i, (name, version, installer) in enumerate(packages)
    ]
    if counts[other]:
        result.append(Package(OTHER, "", "", sizes[other], counts[other]))
    return tuple(sorted(result, key=lambda p: (-(p.size or 0), p.name.lower())))


def _pyc_source(file: str) -> str:
    """``pkg/__pycache__/mod.cpython-311.pyc`` -> ``pkg/mod.py`` (PEP 3147); else ``""``."""
    directory, base = posixpath.split(file)
    if posixpath.basename(directory) != "__pycache__" or not base.endswith(".pyc"):
        return ""
    return posixpath.join(posixpath.dirname(directory), base.split(".", 1)[0] + ".py")


def _directories(sizes: dict[str, int]) -> tuple[Directory, ...]:
    totals: dict[str, int] = {}
    for file, size in sizes.items():
        parts = file.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            below_site = _below_site_packages(parts[:depth])
            if depth > DIRECTORY_DEPTH and not (below_site is not None and below_site <= 1):
                continue
            key = "/".join(parts[:depth])
            totals[key] = totals.get(key, 0) + size
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(Directory(path + "/", size) for path, size in ranked[:DIRECTORY_COUNT])


def _below_site_packages(parts: list[str]) -> int | None:
    """How many levels ``parts`` lies below a ``site-packages`` directory, or None."""
    for i, part in enumerate(parts):
        if part == "site-packages":
            return len(parts) - 1 - i
    return None


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) else None
