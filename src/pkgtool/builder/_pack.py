"""The only door to conda-pack: pack a prefix into a byte-reproducible relocatable archive.

conda-pack decides *what* goes into the archive: which files, each file's prefix
placeholder and mode, the rewritten shebangs and ``conda-meta``, and the ``bin/conda-unpack``
script that relocates the environment where it is unpacked. pkgtool decides *how* the
bytes are laid out, so that the same prefix gives the same archive (reproducible-builds.org,
"Archive metadata"):

- members in sorted order of their path, then conda-pack's own scripts;
- every member's mtime is :func:`source_date_epoch` (``SOURCE_DATE_EPOCH``, else
  :data:`DEFAULT_EPOCH`, 1980-01-01T00:00:00Z); owner and group 0 with empty names;
  permissions 0755 for directories and executables, 0644 for other files (the umask of
  the build does not matter); hard links stored as regular files;
- POSIX.1-2001 (pax) tar; gzip (RFC 1952) with that mtime and no file name in the header,
  or zstd (RFC 8878) frames with the content checksum flag;
- ``conda-meta/*.json``: the channel URL of the ``--local-python`` channel (a path of the
  build host) becomes ``local-python``, and the index timestamp is dropped.

conda-pack reads the files of conda-managed packages from the package cache named in each
``conda-meta/*.json`` (``link.source``), so the package cache must still exist when
:func:`pack_prefix` runs (notes, "conda-pack on a rattler prefix").
"""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile
from fnmatch import fnmatch
from pathlib import Path
from typing import IO, Any

from pkgtool.errors import BuildError

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.zst")
"""Output names ``pkg create`` accepts, and the compression each means."""

DEFAULT_EPOCH = 315532800
"""The member time without ``SOURCE_DATE_EPOCH``: 1980-01-01T00:00:00Z (the zip epoch,
as in wheel and reproducible Python packaging)."""


def archive_format(out: Path) -> str:
    """``"gz"`` or ``"zst"`` for ``out``'s suffix; ``""`` when not supported."""
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


def pack_prefix(
    prefix: Path,
    output: Path,
    *,
    compress_level: int = 4,
    channel_names: dict[str, str] | None = None,
) -> None:
    """Pack ``prefix`` into ``output`` (files at the archive root, ``bin/conda-unpack`` added).

    ``output``'s suffix picks the compression (:func:`archive_format`); it is written with
    mode 0644. ``channel_names`` maps channel URLs in ``conda-meta`` to the names the lock
    uses. ``compress_level`` is gzip's 0-9, or zstd's level (at least 1).

    Raises:
        BuildError: conda-pack refused the prefix or the archive could not be written.
    """
    import conda_pack
    from conda_pack.core import Packer

    kind = archive_format(output)
    epoch = source_date_epoch()
    try:
        env = conda_pack.CondaEnv.from_prefix(str(prefix))
        with output.open("wb") as raw:
            stream = _compressor(raw, kind, compress_level, epoch)
            with _ReproducibleTar(stream, epoch, channel_names or {}) as archive:
                packer = Packer(str(prefix), archive)
                for file in sorted(env.files, key=lambda f: str(f.target)):
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


def _compressor(raw: IO[bytes], kind: str, level: int, epoch: int) -> Any:
    """A write-only stream compressing into ``raw``; ``close()`` finishes the stream."""
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


class _ReproducibleTar:
    """The archive object conda-pack's ``Packer`` writes through (``add``/``add_bytes``),
    normalising every member's metadata (module docstring)."""

    def __init__(self, stream: Any, epoch: int, channel_names: dict[str, str]) -> None:
        # Closed by __exit__ (this object is the context manager).
        self._tar = tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        self._epoch = epoch
        self._channels = channel_names

    def __enter__(self) -> _ReproducibleTar:
        return self

    def __exit__(self, *exc: object) -> None:
        self._tar.close()

    def add(self, source: str, target: str) -> None:
        info = self._info(source, target)
        if info.isreg():
            with open(source, "rb") as fh:
                self._tar.addfile(info, fh)
        else:
            self._tar.addfile(info)

    def add_bytes(self, source: str, data: bytes, target: str) -> None:
        if fnmatch(target, "conda-meta/*.json"):
            data = _normalize_conda_meta(data, self._channels)
        info = self._info(source, target)
        info.size = len(data)
        self._tar.addfile(info, io.BytesIO(data))

    def _info(self, source: str, target: str) -> tarfile.TarInfo:
        st = os.lstat(source)
        info = tarfile.TarInfo(target)
        info.mtime = self._epoch
        info.uid = info.gid = 0
        info.uname = info.gname = ""
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


def _normalize_conda_meta(data: bytes, channels: dict[str, str]) -> bytes:
    record: dict[str, Any] = json.loads(data)
    record.pop("indexed_timestamp", None)
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
