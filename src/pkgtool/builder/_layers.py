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
import itertools
import json
import shutil
import struct
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pkgtool.builder import code as _code
from pkgtool.builder._pack import compressor, normalised_info

INDEX_NAME = ".pkgtool/layers"
"""The first member of a layered archive."""

INDEX_MAGIC = "pkgtool-layers 1"

_KINDS = ("env", "code", "end")


@dataclass(frozen=True)
class LayerRef:
    """One layer of an archive: ``kind`` (``env``, ``code`` or ``end``), the sha256 (hex) of
    its compressed bytes, and where they are: ``offset`` and ``length`` in bytes."""

    kind: str
    sha256: str
    offset: int
    length: int

    @property
    def id(self) -> str:
        """The layer's id on nodes: the first 32 hex digits of its sha256."""
        return self.sha256[:32]


@dataclass(frozen=True)
class LayerIndex:
    """The index of a layered archive (:data:`INDEX_NAME`)."""

    layers: tuple[LayerRef, ...]

    def to_text(self) -> str:
        lines = [INDEX_MAGIC] + [f"{r.kind} {r.sha256} {r.offset} {r.length}" for r in self.layers]
        return "\n".join(lines) + "\n"

    def get(self, kind: str) -> LayerRef | None:
        return next((r for r in self.layers if r.kind == kind), None)

    @classmethod
    def parse(cls, text: str, size: int | None = None) -> LayerIndex:
        """Parse and check an index; ``size``: the archive's size, checked when given.

        Raises:
            ValueError: the text breaks the format in the module docstring.
        """
        lines = text.split("\n")
        if lines[:1] != [INDEX_MAGIC] or lines[-1] != "":
            raise ValueError("not a pkgtool layer index")
        refs = []
        for line in lines[1:-1]:
            fields = line.split(" ")
            if len(fields) != 4 or fields[0] not in _KINDS:
                raise ValueError(f"bad index line {line!r}")
            kind, digest, offset, length = fields
            if len(digest) != 64 or set(digest) - set("0123456789abcdef"):
                raise ValueError(f"bad sha256 in index line {line!r}")
            for number in (offset, length):
                if not number.isdigit() or (number != "0" and number.startswith("0")):
                    raise ValueError(f"bad number in index line {line!r}")
            refs.append(LayerRef(kind, digest, int(offset), int(length)))
        kinds = [r.kind for r in refs]
        if kinds not in (["env", "end"], ["env", "code", "end"]):
            raise ValueError(f"index layers {kinds} are not env, [code,] end")
        for before, after in itertools.pairwise(refs):
            if before.offset + before.length != after.offset:
                raise ValueError("index layers are not contiguous")
        if size is not None and refs[-1].offset + refs[-1].length != size:
            raise ValueError("index does not end at the end of the archive")
        return cls(tuple(refs))


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


def _index_member(index: LayerIndex, epoch: int) -> bytes:
    text = index.to_text().encode("ascii")
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
             layers: Iterable[tuple[str, Path | bytes, str]]) -> LayerIndex:  # fmt: skip
    """Write the index member then each layer to ``dest``; ``layers`` are ``(kind, bytes or
    a file holding them, sha256)`` in order env, [code], end. Returns the index written."""
    parts = list(layers)
    p0_length = len(stored_part(kind, b"\0" * (2 * tarfile.BLOCKSIZE), epoch))
    refs, offset = [], p0_length
    for name, content, digest in parts:
        length = len(content) if isinstance(content, bytes) else content.stat().st_size
        refs.append(LayerRef(name, digest, offset, length))
        offset += length
    index = LayerIndex(tuple(refs))
    p0 = stored_part(kind, _index_member(index, epoch), epoch)
    if len(p0) != p0_length:
        raise AssertionError("the index member's length changed")
    dest.write(p0)
    for _, content, _ in parts:
        if isinstance(content, bytes):
            dest.write(content)
        else:
            with content.open("rb") as fh:
                shutil.copyfileobj(fh, dest, 1 << 20)
    return index


def code_part(bundle: _code.CodeBundle, kind: str, level: int, epoch: int) -> bytes:
    """The compressed code layer of ``bundle`` (bytes; code bundles are small)."""
    buf = io.BytesIO()
    write_code_layer(bundle, buf, kind, level, epoch)
    return buf.getvalue()


def read_index(archive: Path, offset: int = 0) -> LayerIndex | None:
    """The index of the layered archive at ``archive`` (payload starting at ``offset``), or
    None when its first member is not :data:`INDEX_NAME` (an archive of pkgtool 0.1).

    Raises:
        ValueError: the first member is an index but is damaged or inconsistent.
    """
    size = archive.stat().st_size - offset
    with archive.open("rb") as fh:
        fh.seek(offset)
        head = fh.read(4096)
    data = _decode_first(head)
    if data is None or len(data) < tarfile.BLOCKSIZE:
        return None
    try:
        info = tarfile.TarInfo.frombuf(data[: tarfile.BLOCKSIZE], "utf-8", "surrogateescape")
    except tarfile.TarError:
        return None
    if info.name != INDEX_NAME or not info.isreg():
        return None
    text = data[tarfile.BLOCKSIZE : tarfile.BLOCKSIZE + info.size].decode("ascii")
    return LayerIndex.parse(text, size)


def _decode_first(head: bytes) -> bytes | None:
    """The decompressed content of the first gzip member or zstd frame in ``head``."""
    if head[:2] == b"\x1f\x8b":
        import zlib

        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out = d.decompress(head)
        except zlib.error:
            return None
        return out if d.eof else None
    if head[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard

        try:
            return zstandard.ZstdDecompressor().decompressobj().decompress(head)
        except zstandard.ZstdError:
            return None
    return None
