"""Layered archives for the runner tests, written here independently of the builder.

``P0 || env || [code] || end`` (docs/runner.md, "Layered archives"): the tar members are
serialised one by one with :meth:`tarfile.TarInfo.tobuf` (so no end-of-archive blocks), each
part compressed on its own (gzip members or zstd frames), and the index's offsets found by
iterating to a fixed point (its own length is part of the first offset).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from .test_conformance import Member, file, zstd_compress

INDEX_NAME = ".pkgtool/layers"


def members_bytes(members: Sequence[Member], fmt: Literal[0, 1, 2] = tarfile.GNU_FORMAT) -> bytes:
    """The tar members, headers and padded data, with no end-of-archive blocks."""
    out = io.BytesIO()
    for member in members:
        out.write(member.info.tobuf(fmt, "utf-8", "surrogateescape"))
        if member.data is not None:
            out.write(member.data)
            out.write(bytes(-len(member.data) % 512))
    return out.getvalue()


def compress(data: bytes, compression: str, pieces: int = 1) -> bytes:
    """``data`` as ``pieces`` gzip members (``gz``) or zstd frames (``zst``)."""
    step = max(1, -(-len(data) // pieces))
    chunks = [data[i : i + step] for i in range(0, max(len(data), 1), step)]
    if compression == "gz":
        return b"".join(gzip.compress(chunk, compresslevel=6, mtime=0) for chunk in chunks)
    return b"".join(zstd_compress(chunk) for chunk in chunks)


@dataclasses.dataclass(frozen=True)
class Layered:
    """The parts of a layered archive, compressed: ``data`` is all of them concatenated."""

    p0: bytes
    env: bytes
    code: bytes | None
    end: bytes
    index: str

    @property
    def data(self) -> bytes:
        return self.p0 + self.env + (self.code or b"") + self.end

    @property
    def env_id(self) -> str:
        return hashlib.sha256(self.env).hexdigest()[:32]

    @property
    def code_id(self) -> str | None:
        return hashlib.sha256(self.code).hexdigest()[:32] if self.code is not None else None


def index_member(
    text: str, compression: str, pad: int = 0, pieces: int = 1, kind: bytes = tarfile.REGTYPE
) -> bytes:
    """P0: the index as one tar member (``pad`` > 0: with a pax comment of that length, which
    moves the compressed length when no length fits its own offsets without it), compressed
    as ``pieces`` gzip members or zstd frames; ``kind``: its tar type (a lie unless REGTYPE)."""
    info = tarfile.TarInfo(INDEX_NAME)
    info.type = kind
    info.size = len(text.encode())
    info.mtime = 0
    info.mode = 0o644
    if pad:
        info.pax_headers = {"comment": "x" * pad}
    body = members_bytes([Member(info, text.encode())], tarfile.PAX_FORMAT)
    return compress(body, compression, pieces)


def layered(
    env: Sequence[Member],
    code: Sequence[Member] | None,
    compression: str = "gz",
    *,
    edit_index: Callable[[list[str]], list[str]] | None = None,
    env_pieces: int = 2,
    code_compression: str | None = None,
    p0_pieces: int = 1,
    index_kind: bytes = tarfile.REGTYPE,
    raw: dict[str, bytes] | None = None,
) -> Layered:
    """A layered archive of the ``env`` members and (unless ``None``) the ``code`` members.

    ``edit_index`` rewrites the index lines (a lie) after the layout is computed;
    ``code_compression`` compresses the code layer differently (a mixed archive);
    ``p0_pieces`` and ``index_kind``: see :func:`index_member` (damaged forms of P0);
    ``raw``: compressed bytes used as they are for the ``env`` or ``end`` layer (bombs).
    """
    raw = raw or {}
    env_z = raw.get("env") or compress(members_bytes(env), compression, env_pieces)
    code_how = code_compression or compression
    code_z = compress(members_bytes(code), code_how) if code is not None else None
    end_z = raw.get("end") or compress(bytes(1024), compression)
    parts = [("env", env_z), *([("code", code_z)] if code_z is not None else []), ("end", end_z)]

    def layout(head: int, pad: int) -> tuple[list[str], bytes]:
        lines, offset = ["pkgtool-layers 1"], head
        for kind, data in parts:
            assert data is not None
            lines.append(f"{kind} {hashlib.sha256(data).hexdigest()} {offset} {len(data)}")
            offset += len(data)
        text = "".join(f"{line}\n" for line in lines)
        return lines, index_member(text, compression, pad, p0_pieces, index_kind)

    for pad in range(40):
        guess = len(layout(0, pad)[1])
        fits = [h for h in range(guess - 16, guess + 16) if len(layout(h, pad)[1]) == h]
        if fits:
            lines = layout(fits[0], pad)[0]
            break
    else:
        raise AssertionError("no index length fits its own offsets")
    if edit_index is not None:
        lines = edit_index(lines)
    text = "".join(f"{line}\n" for line in lines)
    p0 = index_member(text, compression, pad, p0_pieces, index_kind)
    return Layered(p0, env_z, code_z, end_z, text)


def write_layered(path: Path, archive: Layered) -> Path:
    path.write_bytes(archive.data)
    return path


def code_members(version: str) -> list[Member]:
    """A small code tree: an importable module naming ``version`` and a data file."""
    return [
        file("pkgtool-code/mymod.py", f"VERSION = {version!r}\n"),
        file("pkgtool-code/pkg/__init__.py", ""),
        file("pkgtool-code/pkg/util.py", f"def version():\n    return {version!r}\n"),
        file("pkgtool-code/configs/run.yaml", f"version: {version}\n"),
    ]
