"""Layered archives: an index member, the environment layer, the code layer, the end.

An archive written by ``pkg create`` is the concatenation ``P0 || env || [code] || end`` of
compressed parts; concatenated gzip members (RFC 1952, 2.2) or zstd frames (RFC 8878, 3.1)
are one valid stream and the parts hold one tar stream between them, so ``tar xf`` reads
the whole file as one ordinary archive.

- ``P0`` is one gzip member or zstd frame holding exactly one tar member, the regular file
  :data:`INDEX_NAME`, written uncompressed (deflate stored block; zstd raw block) so that
  its length does not depend on the numbers it holds. Its text (ASCII, LF lines)::

      pkgtool-layers 1
      env <sha256> <offset> <length>
      code <sha256> <offset> <length>      (only with code)
      end <sha256> <offset> <length>

  ``sha256`` (64 lowercase hex digits) is that of the layer's compressed bytes
  ``[offset, offset + length)``, offsets counting from the archive's first byte; the layers
  are contiguous and the last ends at the end of the file.
- ``env``: the environment's tar members (no end-of-archive blocks), cached per lock;
- ``code``: the code bundle under ``pkgtool-code/`` (:mod:`pkgtool.builder.code`);
- ``end``: the end-of-archive marker, two 512-byte zero blocks (POSIX.1-2001 ustar).

A layer's id on nodes is the first 32 hex digits of its sha256 (docs/runner.md), so a
node that holds the environment of an earlier build writes only a new code layer.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import struct
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from pkgtool.builder import code as _code
from pkgtool.builder._pack import compressor, normalised_info
from pkgtool.runner._layers import INDEX_NAME, Index, Layer
from pkgtool.runner._layers import read_index as _read_index

INDEX_MAGIC = "pkgtool-layers 1"
"""The index's first line; the reading side (strict) is :mod:`pkgtool.runner._layers`."""


def stored_part(kind: str, data: bytes, epoch: int) -> bytes:
    """``data`` as one gzip member or zstd frame without compression: the length depends
    only on ``len(data)`` (deflate stored blocks, RFC 1951 3.2.4; a zstd raw block with the
    frame content size and checksum, RFC 8878 3.1.1)."""
    if kind == "gz":
        return gzip.compress(data, compresslevel=0, mtime=epoch)
    import zstandard

    if not 256 <= len(data) <= 65791:  # a 2-byte frame content size; one raw block
        raise ValueError("stored zstd parts hold 256 to 65791 bytes")
    # The content checksum is the low 32 bits of XXH64 of the content, whatever the
    # compression: take it from zstandard's own frame.
    checksum = zstandard.ZstdCompressor(level=1, write_checksum=True).compress(data)[-4:]
    # Frame header descriptor 0x64: 2-byte content size (minus 256), single segment, checksum.
    header = b"\x28\xb5\x2f\xfd" + bytes([0x64]) + struct.pack("<H", len(data) - 256)
    block = (1 | (len(data) << 3)).to_bytes(3, "little")  # last block, raw, its size
    return header + block + data + checksum


def _index_member(layers: list[Layer], epoch: int) -> bytes:
    lines = [INDEX_MAGIC] + [f"{r.kind} {r.sha256} {r.offset} {r.length}" for r in layers]
    text = ("\n".join(lines) + "\n").encode("ascii")
    info = normalised_info(INDEX_NAME, len(text), epoch, executable=False)
    head = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    data = head + text + b"\0" * (-len(text) % tarfile.BLOCKSIZE)
    if len(data) != 2 * tarfile.BLOCKSIZE:
        raise AssertionError("the layer index outgrew one block")
    return data


def end_part(kind: str, epoch: int) -> bytes:
    """The ``end`` layer: two zero blocks, stored."""
    return stored_part(kind, b"\0" * (2 * tarfile.BLOCKSIZE), epoch)


def write_code_layer(bundle: _code.CodeBundle, dest: IO[bytes], kind: str, level: int,
                     epoch: int) -> None:  # fmt: skip
    """Write ``bundle`` as the code layer: directories and files (sorted) under
    ``pkgtool-code/``, then its manifest ``pkgtool-code/.pkgtool-code.json``; one gzip
    member or zstd frame. Normalised like the environment (:mod:`pkgtool.builder._pack`)."""
    stream = compressor(dest, kind, level, epoch)
    manifest = json.dumps(bundle.to_manifest(), indent=1, sort_keys=True).encode() + b"\n"
    entries: list[tuple[str, _code.CodeFile | bytes | None]] = [(_code.CODE_DIR, None)]
    dirs: set[str] = set()
    for f in bundle.files:
        parts = f.path.split("/")
        for i in range(1, len(parts)):
            dirs.add("/".join(parts[:i]))
    items: list[tuple[str, _code.CodeFile | bytes | None]] = [(d, None) for d in dirs]
    items += [(f.path, f) for f in bundle.files]
    items.append((_code.MANIFEST_NAME, manifest))
    entries += [(f"{_code.CODE_DIR}/{name}", item) for name, item in sorted(items)]
    for name, item in entries:
        if item is None:
            info = normalised_info(name, 0, epoch, directory=True)
            stream.write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
            continue
        if isinstance(item, bytes):
            data, executable = item, False
        else:
            data, executable = _read_exact(item), item.executable
        info = normalised_info(name, len(data), epoch, executable=executable)
        stream.write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        stream.write(data + b"\0" * (-len(data) % tarfile.BLOCKSIZE))
    stream.close()


def _read_exact(f: _code.CodeFile) -> bytes:
    """The file's bytes, checked against the sha256 taken when it was selected."""
    from pkgtool.errors import InputError

    data = f.source.read_bytes()
    if hashlib.sha256(data).hexdigest() != f.sha256:
        raise InputError(
            f"code file {f.path} changed while the archive was written",
            hint="run pkg create again when your editor has saved",
        )
    return data


def sha256_file(path: Path) -> tuple[str, int]:
    """(sha256 hex, size in bytes) of ``path``."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def assemble(dest: IO[bytes], kind: str, epoch: int,
             layers: Iterable[tuple[str, Path | bytes, str]]) -> Index:  # fmt: skip
    """Write the index member then each layer to ``dest``; ``layers`` are ``(kind, bytes or
    a file holding them, sha256)`` in order env, [code], end. Returns the index written."""
    parts = list(layers)
    p0_length = len(stored_part(kind, b"\0" * (2 * tarfile.BLOCKSIZE), epoch))
    refs, offset = [], p0_length
    for name, content, digest in parts:
        length = len(content) if isinstance(content, bytes) else content.stat().st_size
        refs.append(Layer(name, digest, offset, length))
        offset += length
    p0 = stored_part(kind, _index_member(refs, epoch), epoch)
    if len(p0) != p0_length:
        raise AssertionError("the index member's length changed")
    dest.write(p0)
    for _, content, _ in parts:
        if isinstance(content, bytes):
            dest.write(content)
        else:
            with content.open("rb") as fh:
                shutil.copyfileobj(fh, dest, 1 << 20)
    code = refs[1] if len(refs) == 3 else None
    return Index("zstd" if kind == "zst" else "gzip", refs[0], code, refs[-1])


def code_part(bundle: _code.CodeBundle, kind: str, level: int, epoch: int) -> bytes:
    """The compressed code layer of ``bundle`` (bytes; code bundles are small)."""
    buf = io.BytesIO()
    write_code_layer(bundle, buf, kind, level, epoch)
    return buf.getvalue()


def read_index(archive: Path) -> Index | None:
    """The checked index of the layered archive ``archive`` (the runners' strict reading),
    or None for an archive of pkgtool 0.1.

    Raises:
        pkgtool.errors.RunnerError: the index member is damaged or inconsistent.
    """
    with archive.open("rb") as fh:
        return _read_index(archive, fh, 0, archive.stat().st_size)
