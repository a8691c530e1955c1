"""Layered archives: the index member ``P0`` and its strict reading (docs/runner.md,
"Layered archives").

A layered archive (or the payload of a self-extracting ``env.sh``) is ``P0 || L1 || ... ||
Ln``: ``P0`` is one gzip member or one zstd frame holding exactly one tar member, the regular
file ``.pkgtool/layers`` (at most 4096 bytes, no end-of-archive blocks); each layer is one or
more whole members/frames of whole tar members, the last (``end``) decoding to exactly two
512-byte zero blocks. The index lists, in this order, one ``env``, at most one ``code`` and
one ``end`` layer with the SHA-256 of its compressed bytes, its offset and its length (bytes
from the start of the payload), contiguous from ``len(P0)`` to the end of the payload.

A file whose first tar member is not named ``.pkgtool/layers`` is a legacy archive.
Everything here runs on the cold path only.
"""

from __future__ import annotations

import dataclasses
import io
import re
import subprocess
import tarfile
import zlib
from pathlib import Path
from typing import IO, Any

from pkgtool.runner._stream import (
    GZIP_MAGIC,
    ID_HEX_DIGITS,
    ZSTD_MAGIC,
    DamagedArchiveError,
    child_environ,
)

INDEX_NAME = ".pkgtool/layers"
"""Name of the one tar member of ``P0``."""
MAX_INDEX = 4096
"""Largest index, in bytes."""
MAX_HEAD = 65536
"""Largest ``P0`` (compressed bytes) the runners accept; its content is at most ~5.5 KiB."""
MAX_END = 65536
"""Largest ``end`` layer (compressed bytes) the runners accept (its content is 1024 bytes)."""
_PEEK = 16384  # decompressed bytes looked at to find the first member's name
_MAX_P0 = 16384  # decompressed bytes of P0 accepted (one header, pax records, 4096 of data)
_MAX_BLOCKS = 4  # zstd blocks in P0 (<= 128 KiB each): bounds what a forged frame expands to

_LINE = re.compile(rb"(env|code|end) ([0-9a-f]{64}) (0|[1-9][0-9]{0,14}) (0|[1-9][0-9]{0,14})\n")


@dataclasses.dataclass(frozen=True)
class Layer:
    """One layer: ``kind`` (``env``, ``code`` or ``end``), the SHA-256 of its compressed bytes
    (64 lowercase hex digits), ``offset`` and ``length`` in bytes from the payload's start."""

    kind: str
    sha256: str
    offset: int
    length: int

    @property
    def id(self) -> str:
        """The layer id: the first 32 hex digits of ``sha256``; its directory in the cache."""
        return self.sha256[:ID_HEX_DIGITS]


@dataclasses.dataclass(frozen=True)
class Index:
    """A parsed, checked index: the compression (``gzip`` or ``zstd``) and the layers."""

    compression: str
    env: Layer
    code: Layer | None
    end: Layer

    @property
    def layers(self) -> tuple[Layer, ...]:
        """The layers in file order."""
        return (self.env, self.code, self.end) if self.code else (self.env, self.end)


def parse_index(text: bytes, head_length: int, payload_size: int) -> tuple[Layer, ...]:
    """The layers of the index ``text`` (the content of ``.pkgtool/layers``), checked against
    the length of ``P0`` and the payload's size in bytes.

    Raises :class:`ValueError` with the reason for anything but exactly the documented form.
    """
    if len(text) > MAX_INDEX:
        raise ValueError(f"the layer index is longer than {MAX_INDEX} bytes")
    if not text.startswith(b"pkgtool-layers 1\n"):
        raise ValueError("the layer index does not start with 'pkgtool-layers 1'")
    lines = text[len(b"pkgtool-layers 1\n") :].splitlines(keepends=True)
    layers = []
    for line in lines:
        found = _LINE.fullmatch(line)
        if found is None:
            raise ValueError(f"bad line in the layer index: {line[:80]!r}")
        kind, sha, offset, length = (part.decode("ascii") for part in found.groups())
        layers.append(Layer(kind, sha, int(offset), int(length)))
    kinds = [layer.kind for layer in layers]
    if kinds not in (["env", "end"], ["env", "code", "end"]):
        raise ValueError(f"the layer index lists {' '.join(kinds) or 'nothing'}, "
                         "not env [code] end")  # fmt: skip
    position = head_length
    for layer in layers:
        if layer.offset != position:
            raise ValueError(f"the {layer.kind} layer starts at {layer.offset}, not {position}")
        position += layer.length
    if position != payload_size:
        raise ValueError(f"the layers end at byte {position}, the archive at {payload_size}")
    if layers[-1].length > MAX_END:
        raise ValueError(f"the end layer is longer than {MAX_END} bytes")
    return tuple(layers)


def read_index(archive: Path, stream: IO[bytes], offset: int, size: int) -> Index | None:
    """The index of the archive whose payload starts at ``offset`` in ``stream`` and has
    ``size`` bytes, or ``None`` for a legacy archive (first member not ``.pkgtool/layers``,
    or not gzip/zstd at all: the legacy path reports that).

    Leaves ``stream`` anywhere. Raises :class:`DamagedArchiveError` when the first member is
    the index but ``P0`` or the index breaks a rule.
    """
    stream.seek(offset)
    head = stream.read(MAX_HEAD)
    if head[:2] == GZIP_MAGIC:
        compression = "gzip"
    elif head[:4] == ZSTD_MAGIC:
        compression = "zstd"
    else:
        return None
    peek = _peek(head, compression, stream, offset)
    if _first_name(peek) != INDEX_NAME:
        return None
    try:
        head_length, content = _decode_p0(head, compression)
        text = _index_text(content)
        env, *rest = parse_index(text, head_length, size)
    except ValueError as exc:
        raise DamagedArchiveError(archive, str(exc)) from None
    # Each layer starts as P0 does: a `zstd -d` child (or the sh runner's zstd, which also
    # reads gzip) would decode a whole layer of the other compression.
    lead, unit = {
        "gzip": (GZIP_MAGIC + b"\x08", "gzip member"),
        "zstd": (ZSTD_MAGIC, "zstd frame"),
    }[compression]
    for layer in (env, *rest):
        stream.seek(offset + layer.offset)
        if stream.read(len(lead)) != lead:
            raise DamagedArchiveError(
                archive, f"its {layer.kind} layer does not start with a {unit} as P0 does"
            )
    code = rest[0] if len(rest) == 2 else None
    return Index(compression, env, code, rest[-1])


def _peek(head: bytes, compression: str, stream: IO[bytes], offset: int) -> bytes:
    """Up to 16 KiB of the decompressed start of the payload (errors ignored: the legacy path
    and the strict reading of P0 report them)."""
    if compression == "gzip":
        return _peek_gzip(head)
    module = zstandard()
    if module is not None:
        try:
            reader = module.ZstdDecompressor().stream_reader(
                io.BytesIO(head),
                read_across_frames=True,  # as _peek_gzip: P0 may be split
            )
            return bytes(reader.read(_PEEK))
        except module.ZstdError:
            return b""
    stream.seek(offset)  # the child reads the archive itself from here: no pipe to fill
    child = subprocess.Popen(
        ["zstd", "-d", "-c", "-q"], stdin=stream, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, env=child_environ(),
    )  # fmt: skip
    assert child.stdout is not None
    peek = child.stdout.read(_PEEK)
    child.kill()
    child.wait()
    child.stdout.close()
    return peek


def _peek_gzip(head: bytes) -> bytes:
    """Up to 16 KiB decompressed from ``head``, across gzip members as the legacy path reads
    them: a P0 split over two members must still be seen to start with the index (and then
    be refused by :func:`_decode_p0`), whatever its first member holds."""
    out = b""
    while head and len(out) < _PEEK:
        member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += member.decompress(head, _PEEK - len(out))
        except zlib.error:
            break
        if not member.eof:
            break
        head = member.unused_data
    return out


def _first_name(data: bytes) -> str | None:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            first = archive.next()
    except (tarfile.TarError, EOFError, ValueError, UnicodeError):
        return None
    return first.name if first is not None else None


def _decode_p0(head: bytes, compression: str) -> tuple[int, bytes]:
    """``(compressed length of P0, its content)``; checks the CRC or checksum."""
    if compression == "gzip":
        member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            content = member.decompress(head, _MAX_P0 + 1)
        except zlib.error as exc:
            raise ValueError(f"the index member: gzip: {exc}") from None
        if len(content) > _MAX_P0:
            raise ValueError("the index member is too large")
        if not member.eof:
            raise ValueError(f"the index member is not complete in the first {MAX_HEAD} bytes")
        return len(head) - len(member.unused_data), content
    length = zstd_frame_length(head)
    frame = head[:length]
    module = zstandard()
    if module is not None:
        try:
            decoder = module.ZstdDecompressor().decompressobj()
            content = decoder.decompress(frame)
        except module.ZstdError as exc:
            raise ValueError(f"the index member: zstd: {exc}") from None
        if not decoder.eof:
            raise ValueError("the index member: zstd frame not complete")
    else:
        done = subprocess.run(
            ["zstd", "-d", "-c", "-q"], input=frame, capture_output=True, env=child_environ(),
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            reason = done.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
            raise ValueError(f"the index member: zstd: {' '.join(reason) or 'failed'}")
        content = done.stdout
    if len(content) > _MAX_P0:
        raise ValueError("the index member is too large")
    return length, content


def zstd_frame_length(data: bytes) -> int:
    """Length in bytes of the zstd frame at the start of ``data`` (RFC 8878, section 3.1.1),
    found from its header and block headers without decompressing.

    Raises :class:`ValueError` when the frame is malformed, not complete in ``data``, or has
    more than 4 blocks (``P0`` needs one).
    """
    if data[:4] != ZSTD_MAGIC or len(data) < 5:
        raise ValueError("the index member is not a zstd frame")
    descriptor = data[4]
    if descriptor & 0x08:
        raise ValueError("the index member: zstd reserved bit set")
    single_segment = descriptor >> 5 & 1
    size_bytes = (1 if single_segment else 0, 2, 4, 8)[descriptor >> 6]
    position = 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[descriptor & 3] + size_bytes
    for _block in range(_MAX_BLOCKS):
        if position + 3 > len(data):
            break
        header = int.from_bytes(data[position : position + 3], "little")
        kind, size = header >> 1 & 3, header >> 3
        if kind == 3:
            raise ValueError("the index member: zstd reserved block type")
        position += 3 + (1 if kind == 1 else size)
        if header & 1:  # last block
            position += 4 if descriptor & 0x04 else 0
            if position > len(data):
                break
            return position
    raise ValueError(f"the index member is not one small zstd frame in the first {MAX_HEAD} bytes")


def _index_text(content: bytes) -> bytes:
    """The data of the one member ``.pkgtool/layers`` that ``content`` (P0's tar) must hold."""
    try:
        with tarfile.open(fileobj=io.BytesIO(content), mode="r:") as archive:
            members = archive.getmembers()
            if len(members) != 1:
                raise ValueError(f"the index member holds {len(members)} tar members, not 1")
            member = members[0]
            if member.name != INDEX_NAME or not member.isreg():
                raise ValueError(f"the first member is not a regular file {INDEX_NAME}")
            if member.size > MAX_INDEX:
                raise ValueError(f"the layer index is longer than {MAX_INDEX} bytes")
            end = member.offset_data + -(-member.size // 512) * 512
            if end != len(content):
                raise ValueError("the index member has more than its one tar member")
            extracted = archive.extractfile(member)
            assert extracted is not None  # a regular file
            return extracted.read()
    except (tarfile.TarError, EOFError) as exc:
        raise ValueError(f"the index member is not a tar member: {exc}") from None


def zstandard() -> Any:
    """The ``zstandard`` module, or ``None`` when it cannot be imported."""
    import importlib

    try:
        return importlib.import_module("zstandard")
    except ImportError:
        return None
