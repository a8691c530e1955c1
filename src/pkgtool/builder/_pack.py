"""The only door to conda-pack: pack a prefix into the byte-reproducible environment layer.

conda-pack decides *what* goes into the archive: which files, each file's prefix
placeholder and mode, the rewritten shebangs and ``conda-meta``, and the ``bin/conda-unpack``
script that relocates the environment where it is unpacked. pkgtool decides *how* the
bytes are laid out, so that the same prefix gives the same archive (reproducible-builds.org,
"Archive metadata"):

- members in sorted order of their path (the conda layer's first, then each pip
  distribution's, when they are given: see :func:`pack_prefix`), then conda-pack's own
  scripts; no end-of-archive blocks (the archive is assembled from layers by
  :mod:`pkgtool.builder._layers`);
- every member's mtime is :func:`source_date_epoch` (``SOURCE_DATE_EPOCH``, else
  :data:`DEFAULT_EPOCH`, 1980-01-01T00:00:00Z); owner and group 0 with empty names;
  permissions 0755 for directories and executables, 0644 for other files (the umask of
  the build does not matter); hard links stored as regular files;
- POSIX.1-2001 (pax) tar; gzip (RFC 1952) with that mtime and no file name in the header,
  or zstd (RFC 8878) frames with the content checksum flag;
- ``conda-meta/*.json``: the channel URL of the ``--local-python`` channel (a path of the
  build host) becomes ``local-python``, the index timestamp is dropped, and ``link.type``
  is always :data:`LINK_TYPE` (rattler records a copy when the package cache is on another
  filesystem than the staging prefix).

conda-pack reads the files of conda-managed packages from the package cache named in each
``conda-meta/*.json`` (``link.source``), so the package cache must still exist when
:func:`pack_prefix` runs (notes, "conda-pack on a rattler prefix").
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import IO, Any

from pkgtool.builder.cache import file_sha256, write_atomic
from pkgtool.errors import BuildError

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.zst", ".sh")
"""Output names ``pkg create`` accepts: gzip, zstd, or a self-extracting sh file (the sh
runner followed by the ``.tar.gz`` bytes, see :func:`pkgtool.runner.write_self_extracting`)."""

DEFAULT_EPOCH = 315532800
"""The member time without ``SOURCE_DATE_EPOCH``: 1980-01-01T00:00:00Z (the zip epoch,
as in wheel and reproducible Python packaging)."""


LINK_TYPE = 1
"""The ``link.type`` every ``conda-meta`` record of an archive gets (conda's hard link), so
that the bytes do not depend on the filesystem of the build cache."""


def archive_format(out: Path) -> str:
    """``"gz"`` or ``"zst"`` for ``out``'s suffix (``.sh`` holds gzip); ``""`` when not
    supported."""
    name = out.name
    for suffix in ARCHIVE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return "zst" if suffix == ".tar.zst" else "gz"
    return ""


def source_date_epoch() -> int:
    """Seconds since the epoch for every member: ``SOURCE_DATE_EPOCH`` (reproducible-builds.org
    specification) when it is a non-negative integer, else :data:`DEFAULT_EPOCH`."""
    text = os.environ.get("SOURCE_DATE_EPOCH", "")
    return int(text) if text.isdigit() else DEFAULT_EPOCH


@dataclass(frozen=True)
class LayerPart:
    """The conda layer's share of an archive: ``files`` (paths relative to the prefix) go
    first, compressed on their own into ``cache`` (a directory; one file per compression,
    level and member time) and reused by every archive of that layer. None: no layer."""

    files: frozenset[str]
    cache: Path


def pack_prefix(
    prefix: Path,
    output: Path,
    *,
    compress_level: int = 4,
    channel_names: dict[str, str] | None = None,
    layer: LayerPart | None = None,
    parts: Sequence[LayerPart] = (),
    warn: Callable[[str], None] = lambda text: None,
) -> None:
    """Pack ``prefix`` into ``output``, the environment layer of an archive: compressed tar
    members (files at the archive root, ``bin/conda-unpack`` added) without the
    end-of-archive blocks.

    ``output``'s suffix picks the compression (:func:`archive_format`); it is written with
    mode 0644. ``channel_names`` maps channel URLs in ``conda-meta`` to the names the lock
    uses. ``compress_level`` is gzip's 0-9, or zstd's level (at least 1).

    With ``layer``, the archive is two compressed parts: the layer's files (sorted), then
    everything else (sorted) and conda-pack's scripts. Concatenated gzip members (RFC 1952,
    2.2) or zstd frames (RFC 8878, 3.1) are one valid stream, and tar members may span
    them, so readers see one ordinary archive; the first part is compressed once per layer.
    ``parts`` (the pip layer's distributions, see :mod:`.distcache`) follow the layer's part
    in their order, each compressed on its own and cached the same way; a file two parts
    name goes in the first. A cached part whose bytes do not match the sha256 and length
    recorded beside it is reported through ``warn`` (a ``warning:`` line) and compressed
    again.

    Raises:
        BuildError: conda-pack refused the prefix or the archive could not be written.
    """
    import conda_pack
    from conda_pack.core import Packer

    kind = archive_format(output)
    epoch = source_date_epoch()
    try:
        env = conda_pack.CondaEnv.from_prefix(str(prefix))
        files = sorted(env.files, key=lambda f: str(f.target))
        layers = [*([layer] if layer is not None else []), *parts]
        groups: list[list[Any]] = [[] for _ in layers]
        rest: list[Any] = []
        for f in files:
            index = next((i for i, p in enumerate(layers) if f.target in p.files), None)
            (rest if index is None else groups[index]).append(f)
        with output.open("wb") as raw:
            state: dict[str, Any] = {"prefixes": [], "packages": [], "size": 0}
            for part, group in zip(layers, groups, strict=True):
                add = _first_part(prefix, group, raw, (kind, compress_level, epoch),
                                  channel_names or {}, part, warn)  # fmt: skip
                state = {"prefixes": state["prefixes"] + add["prefixes"],
                         "packages": state["packages"] + add["packages"],
                         "size": state["size"] + add["size"]}  # fmt: skip
            stream = compressor(raw, kind, compress_level, epoch)
            archive = _Members(stream, epoch, channel_names or {}, offset=state["size"])
            packer = Packer(str(prefix), archive)
            packer.prefixes = [tuple(p) for p in state["prefixes"]]
            packer.packages = list(state["packages"])
            for file in rest:
                packer.add(file)
            packer.finish()
            stream.close()
    except conda_pack.CondaPackException as exc:
        output.unlink(missing_ok=True)
        raise BuildError(
            f"conda-pack failed: {exc}".splitlines()[0],
            hint="a pip package may have overwritten files of a conda package; "
            "move that package to one installer in the spec",
        ) from exc
    except OSError as exc:
        output.unlink(missing_ok=True)
        raise BuildError(
            f"cannot write {output.name}: {exc}", hint="check free disk space"
        ) from exc
    os.chmod(output, 0o644)


def _first_part(
    prefix: Path, files: list[Any], raw: IO[bytes], how: tuple[str, int, int],
    channels: dict[str, str], layer: LayerPart | None, warn: Callable[[str], None],
) -> dict[str, Any]:  # fmt: skip
    """Write the layer's compressed part to ``raw`` (compression, level and member time
    ``how``; from the layer's cache when there and intact) and return what conda-pack's
    Packer learnt from it: ``prefixes`` (placeholder records for conda-unpack),
    ``packages`` (conda-meta records) and ``size`` (uncompressed bytes); the cached record
    adds the part's ``sha256`` and ``length``."""
    from conda_pack.core import Packer

    empty: dict[str, Any] = {"prefixes": [], "packages": [], "size": 0}
    if layer is None or not files:
        return empty
    kind, level, epoch = how
    name = f"{kind}-{level}-{epoch}"
    part, meta = layer.cache / f"{name}.part", layer.cache / f"{name}.json"
    state = _cached_part(part, meta, warn)
    if state is None:
        layer.cache.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=layer.cache, delete=False) as tmp:
            stream = compressor(tmp, kind, level, epoch)
            archive = _Members(stream, epoch, channels, offset=0)
            packer = Packer(str(prefix), archive)
            for file in files:
                packer.add(file)
            stream.close()
        digest, length = _digest_and_size(Path(tmp.name))
        state = {"prefixes": packer.prefixes, "packages": packer.packages,
                 "size": archive.offset, "sha256": digest, "length": length}  # fmt: skip
        os.replace(tmp.name, part)
        write_atomic(meta, json.dumps(state).encode())
    with part.open("rb") as fh:
        shutil.copyfileobj(fh, raw, 1 << 20)
    return state


def _cached_part(part: Path, meta: Path, warn: Callable[[str], None]) -> dict[str, Any] | None:
    """The record of the cached part ``part`` when it and its bytes are intact; None when
    absent; a damaged one is reported, removed, and None returned."""
    if not meta.exists() and not part.exists():
        return None
    try:
        state = json.loads(meta.read_text(encoding="utf-8"))
        ok = isinstance(state, dict) and {"prefixes", "packages", "size"} <= state.keys()
        if ok and _digest_and_size(part) == (state.get("sha256"), state.get("length")):
            return dict(state)
        problem = "does not match its sha256 and length"
    except (OSError, ValueError) as exc:
        problem = f"is unreadable ({exc})"
    where = f"{part.parent.parent.parent.name}/{part.parent.parent.name}/parts/{part.name}"
    warn(f"warning: build cache part {where} {problem}; compressing it again")
    part.unlink(missing_ok=True)
    meta.unlink(missing_ok=True)
    return None


def _digest_and_size(path: Path) -> tuple[str, int]:
    return file_sha256(path), path.stat().st_size


def compressor(raw: IO[bytes], kind: str, level: int, epoch: int) -> Any:
    """A write-only stream compressing into ``raw`` as one gzip member or zstd frame;
    ``close()`` finishes it and leaves ``raw`` open."""
    if kind == "zst":
        import zstandard

        # threads=-1: zstd's multi-threaded mode, whose output does not depend on the
        # number of workers (zstd manual, ZSTD_c_nbWorkers).
        cctx = zstandard.ZstdCompressor(level=max(level, 1), write_checksum=True, threads=-1)
        return cctx.stream_writer(raw, closefd=False)
    from conda_pack.formats import ParallelGzipFileWriter

    # Fixed 256 KiB blocks compressed independently: the bytes do not depend on the threads.
    return ParallelGzipFileWriter(
        raw, compresslevel=level, n_threads=os.cpu_count() or 1, mtime=epoch
    )


class _Members:
    """The archive object conda-pack's ``Packer`` writes through (``add``/``add_bytes``):
    POSIX.1-2001 tar members with normalised metadata (module docstring), written to a
    stream; ``offset`` counts the uncompressed bytes of the whole archive so far."""

    def __init__(self, stream: Any, epoch: int, channels: dict[str, str], offset: int) -> None:
        self._stream = stream
        self._epoch = epoch
        self._channels = channels
        self.offset = offset

    def _write(self, data: bytes) -> None:
        self._stream.write(data)
        self.offset += len(data)

    def _member(self, info: tarfile.TarInfo, fh: IO[bytes] | None) -> None:
        self._write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        if fh is None:
            return
        remaining = info.size
        while remaining:
            chunk = fh.read(min(remaining, 1 << 20))
            if not chunk:
                raise OSError(f"{info.name} shrank while it was packed")
            self._write(chunk)
            remaining -= len(chunk)
        if info.size % tarfile.BLOCKSIZE:
            self._write(b"\0" * (tarfile.BLOCKSIZE - info.size % tarfile.BLOCKSIZE))

    def add(self, source: str, target: str) -> None:
        info = self._info(source, target)
        if info.isreg():
            with open(source, "rb") as fh:
                self._member(info, fh)
        else:
            self._member(info, None)

    def add_bytes(self, source: str, data: bytes, target: str) -> None:
        if fnmatch(target, "conda-meta/*.json"):
            data = _normalize_conda_meta(data, self._channels)
        info = self._info(source, target)
        info.size = len(data)
        self._member(info, io.BytesIO(data))

    def _info(self, source: str, target: str) -> tarfile.TarInfo:
        st = os.lstat(source)
        info = normalised_info(target, 0, self._epoch)
        if stat.S_ISLNK(st.st_mode):
            info.type = tarfile.SYMTYPE
            info.linkname = os.readlink(source)
            info.mode = 0o777
        elif stat.S_ISDIR(st.st_mode):
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
        elif stat.S_ISREG(st.st_mode):
            info.size = st.st_size
            info.mode = 0o755 if st.st_mode & 0o111 else 0o644
        else:
            raise BuildError(
                f"{target} in the environment is not a file, directory or symlink",
                hint="remove device files and fifos from the environment",
            )
        return info


def normalised_info(
    name: str, size: int, epoch: int, *, executable: bool = False, directory: bool = False
) -> tarfile.TarInfo:
    """A tar header with the normalised metadata of the module docstring: a regular file of
    ``size`` bytes (mode 0755 when ``executable``, else 0644) or a directory (0755)."""
    info = tarfile.TarInfo(name)
    info.mtime = epoch
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if directory:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.size = size
        info.mode = 0o755 if executable else 0o644
    return info


def _normalize_conda_meta(data: bytes, channels: dict[str, str]) -> bytes:
    record: dict[str, Any] = json.loads(data)
    record.pop("indexed_timestamp", None)
    link = record.get("link")
    if isinstance(link, dict) and "type" in link:
        # how rattler linked the files into the staging prefix: 1 (hard link) from a package
        # cache on the staging prefix's filesystem, 3 (copy) from another one (a tmpfs
        # cache); the archive's files are regular files either way, so it is always 1
        link["type"] = LINK_TYPE
    for key in ("channel", "url"):
        value = record.get(key)
        if isinstance(value, str):
            record[key] = _rename(value, channels)
    return json.dumps(record, indent=True, sort_keys=True).encode()


def _rename(url: str, channels: dict[str, str]) -> str:
    for base, name in channels.items():
        if url.rstrip("/") == base.rstrip("/"):
            return name
        if url.startswith(base.rstrip("/") + "/"):
            return name + url[len(base.rstrip("/")) :]
    return url
