"""The cold path's single pass over the archive: hash, decompress, extract, check integrity.

The archive's bytes are read once. Every chunk goes to SHA-256 (the environment id is the
first 32 hex digits of the digest of exactly these bytes) and to the decompressor; the
decompressed tar stream goes to a GNU tar child that extracts it into a private work
directory (``tar -x -v -o -f - -C WORK``, names listed on its stdout).

Compression is recognised by its magic bytes, never by the file name:

- gzip (``1f 8b``): decompressed here with :mod:`zlib`, member after member (a multi-member
  file is one stream); each member's CRC32 and ISIZE trailer is checked; after the last
  member nothing may follow, not even zero bytes;
- zstd (``28 b5 2f fd``): with the ``zstandard`` module when it can be imported, frame after
  frame (content checksums verified when the frame has one), else by a ``zstd -d -c`` child;
  trailing bytes that are not a frame are an error.

Anything else, a truncated stream or a failed check is :class:`DamagedArchiveError` (exit
125). When tar stops reading early, the rest is still decompressed (and thrown away) so that
the trailer is always checked.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import subprocess
import zlib
from pathlib import Path
from typing import IO, Any, Callable

from pkgtool.errors import RunnerError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CHUNK = 1 << 20
"""Bytes read from the archive at a time."""
_MAX_OUT = 256 << 10  # bytes of decompressed output made at once (gzip), see _PIPE_SIZE
_PIPE_SIZE = 1 << 20
"""Capacity asked for the pipe into tar (``F_SETPIPE_SZ``, Linux; 1 MiB is the default
``/proc/sys/fs/pipe-max-size``): with output made in pieces of ``_MAX_OUT``, tar always has
data to extract while the next piece is decompressed, as with ``gzip -d | tar``."""
_ZSTD_IN = 512
"""zstd input fed to the ``zstandard`` module at once: its output cannot be capped, its input
can. A block header and its byte can stand for 128 KiB (an RLE block), so 512 bytes make at
most 16 MiB at once (64 KiB could make 2 GiB); small pieces cost no time (measured: 0.46 s
for 84 MB in 512-byte pieces, 0.76 s in 64 KiB ones)."""

EXPANSION_FLOOR = 64 << 20
EXPANSION_RATIO = 32


def expansion_limit(compressed: int) -> int:
    """The most bytes a layer (or a legacy archive) of ``compressed`` bytes may decompress
    to: 64 MiB + 32 times its size (docs/runner.md, "Bounds"). Environments compress 3 to 6
    times; a decompression bomb compresses a thousand times and more."""
    return EXPANSION_FLOOR + EXPANSION_RATIO * compressed


ID_HEX_DIGITS = 32
"""Hex digits of the archive's SHA-256 kept as the environment id (128 bits)."""

DAMAGED_HINT = "copy the archive again from where it was built (compare its sha256sum)"

# Variables that would change what the children do: TAR_OPTIONS can add -P (absolute names).
_CHILD_ENV_DROP = ("TAR_OPTIONS", "GZIP", "ZSTD_CLEVEL", "ZSTD_NBTHREADS", "POSIXLY_CORRECT")


class DamagedArchiveError(RunnerError):
    """The archive is not a complete gzip or zstd stream, or fails its checksum (exit 125)."""

    def __init__(self, archive: Path, reason: str) -> None:
        super().__init__(f"archive {archive} is damaged or not a pkgtool archive: {reason}",
                         hint=DAMAGED_HINT)  # fmt: skip


def child_environ() -> dict[str, str]:
    """The environment for tar/zstd children: C locale, no option variables."""
    env = {k: v for k, v in os.environ.items() if k not in _CHILD_ENV_DROP}
    env["LC_ALL"] = "C"
    return env


class _Damaged(Exception):
    """Raised inside the decompressors; turned into :class:`DamagedArchiveError`."""


class _Gunzip:
    """Multi-member gzip decompression with a bounded amount of output per call."""

    def __init__(self) -> None:
        self.member: Any = None  # zlib decompressobj, None between members
        self.pending = b""  # bytes between members not yet known to start a member
        self.members = 0

    def feed(self, data: bytes, emit: Callable[[bytes], None]) -> None:
        while data:
            if self.member is None:
                data = self.pending + data
                self.pending = b""
                if len(data) < 2:
                    self.pending = data
                    return
                if data[:2] != GZIP_MAGIC:
                    what = "zero bytes" if not data.strip(b"\0") else "bytes"
                    raise _Damaged(f"{what} after the end of the gzip data")
                self.member = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self.members += 1
            try:
                out = self.member.decompress(data, _MAX_OUT)
                emit(out)
                # not after the member's end: CPython then keeps the input after the end in
                # unconsumed_tail too and appends it to unused_data on every call, forever
                while self.member.unconsumed_tail and not self.member.eof:
                    emit(self.member.decompress(self.member.unconsumed_tail, _MAX_OUT))
            except zlib.error as exc:
                raise _Damaged(f"gzip: {exc}") from None
            if self.member.eof:
                data = self.member.unused_data
                self.member = None
            else:
                data = b""

    def finish(self, emit: Callable[[bytes], None]) -> None:
        if self.member is not None:
            try:
                emit(self.member.flush())
            except zlib.error as exc:  # pragma: no cover - flush after partial input
                raise _Damaged(f"gzip: {exc}") from None
            if not self.member.eof:
                raise _Damaged("it ends before the gzip data does (truncated)")
        if self.pending:
            raise _Damaged("bytes after the end of the gzip data")


class _Unzstd:
    """Multi-frame zstd decompression with the ``zstandard`` module."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.frame: Any = None
        self.pending = b""

    def feed(self, data: bytes, emit: Callable[[bytes], None]) -> None:
        while data:
            if self.frame is None:
                data = self.pending + data
                self.pending = b""
                if len(data) < 4:
                    self.pending = data
                    return
                if data[:4] != ZSTD_MAGIC:
                    raise _Damaged("bytes after the end of the zstd data")
                self.frame = self.module.ZstdDecompressor().decompressobj()
            try:
                emit(self.frame.decompress(data[:_ZSTD_IN]))
            except self.module.ZstdError as exc:
                raise _Damaged(f"zstd: {exc}") from None
            if self.frame.eof:
                data = self.frame.unused_data + data[_ZSTD_IN:]
                self.frame = None
            else:
                data = data[_ZSTD_IN:]

    def finish(self, emit: Callable[[bytes], None]) -> None:
        if self.frame is not None:
            raise _Damaged("it ends before the zstd data does (truncated)")
        if self.pending:
            raise _Damaged("bytes after the end of the zstd data")


def _zstandard() -> Any:
    try:
        return importlib.import_module("zstandard")
    except ImportError:
        return None


class Extraction:
    """Result of :func:`stream_extract`: the id, tar's status, its listing and messages."""

    __slots__ = ("digest", "env_id", "names", "tar_errors", "tar_status")

    def __init__(self, digest: str, names: bytes, tar_status: int, tar_errors: str) -> None:
        self.digest = digest  # the SHA-256 of the bytes read, 64 hex digits
        self.env_id = digest[:ID_HEX_DIGITS]
        self.names = names
        self.tar_status = tar_status
        self.tar_errors = tar_errors


def _too_large(limit: int) -> _Damaged:
    return _Damaged(
        f"it expands to more than {limit} bytes ({EXPANSION_RATIO} times its compressed "
        f"size + {EXPANSION_FLOOR >> 20} MiB: a decompression bomb)"
    )


def _writer(stream: IO[bytes], limit: int) -> tuple[Callable[[bytes], None], list[bool]]:
    closed = [False]
    written = [0]

    def emit(data: bytes) -> None:
        written[0] += len(data)
        if written[0] > limit:
            raise _too_large(limit)
        if data and not closed[0]:
            try:
                stream.write(data)
            except BrokenPipeError:  # tar stopped reading: keep checking the rest anyway
                closed[0] = True

    return emit, closed


def stream_extract(
    archive: Path,
    source: IO[bytes] | Range,
    work: Path,
    keep_fds: tuple[int, ...],
    children: list[subprocess.Popen[bytes]],
    expect: str | None = None,
    *,
    compressed: int,
) -> Extraction:
    """Extract the rest of ``source`` (positioned at the payload) into the directory ``work``.

    ``expect`` (``gzip`` or ``zstd``): the compression the data must use (a layer must use
    its archive's); ``None`` accepts either. ``compressed``: the length of the data, whose
    decompressed size may not pass :func:`expansion_limit` (at most that much is written).

    The result holds tar's listing of member names (one per line, GNU tar's escapes) and its
    messages, kept in memory (the cache's disk may be the full one).
    ``keep_fds`` are inherited by the children (the cold path's locks: a child outliving a
    killed runner keeps the lock until it exits). Children are appended to ``children`` as
    they start, so that a signal handler can stop them. Raises :class:`DamagedArchiveError`
    when the compressed stream is incomplete or corrupt, :class:`RunnerError` when a needed
    tool is missing. tar's own failure is returned, not raised: the caller checks the
    extracted names first.
    """
    head = source.read(4)
    digest = hashlib.sha256(head)
    if head[:2] == GZIP_MAGIC:
        kind = "gzip"
    elif head == ZSTD_MAGIC:
        kind = "zstd"
    else:
        what = "it is empty" if not head else "it is neither gzip nor zstd data"
        raise DamagedArchiveError(archive, what)
    if expect is not None and kind != expect:
        raise DamagedArchiveError(archive, f"a layer is {kind} data in a {expect} archive")
    env = child_environ()
    zstandard = _zstandard() if kind == "zstd" else None
    unzstd_child = kind == "zstd" and zstandard is None
    zstd_proc: subprocess.Popen[bytes] | None = None
    limit = expansion_limit(compressed)
    if unzstd_child:
        zstd_proc = _spawn(
            ["zstd", "-d", "-c", "-q"], archive, "zstd",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            pass_fds=keep_fds, env=env,
        )  # fmt: skip
        children.append(zstd_proc)
    # -i: a layer appended as a whole tar (its own gzip member or zstd frame) is read too
    argv = ["tar", "-x", "-i", "-v", "-o", "-f", "-", "-C", str(work)]
    if zstd_proc is not None:  # tar may stop before the end: drain, so zstd checks it all
        argv = ["sh", "-c", 'tar "$@"; s=$?; cat >/dev/null; exit $s', "sh", *argv[1:]]
    tar = _spawn(
        argv, archive, "tar",
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        pass_fds=keep_fds, env=env,
    )  # fmt: skip
    children.append(tar)
    assert tar.stdout is not None and tar.stderr is not None and tar.stdin is not None
    _grow_pipe(tar.stdin.fileno())
    listing = _Drain(tar.stdout)  # in memory: the cache's disk may be the full one
    messages = _Drain(tar.stderr)
    pump: _Pump | None = None
    if zstd_proc is not None:
        assert zstd_proc.stdout is not None and zstd_proc.stdin is not None
        pump = _Pump(zstd_proc, tar.stdin, limit)  # counts what zstd makes, on to tar
        sink = zstd_proc.stdin
        emit, _closed = _writer(sink, limit=1 << 62)  # compressed bytes: no ceiling
    else:
        sink = tar.stdin
        emit, _closed = _writer(sink, limit)
    try:
        if zstd_proc is not None:
            _copy_raw(head, source, digest, emit)
        else:
            decoder: Any = _Gunzip() if kind == "gzip" else _Unzstd(zstandard)
            _decompress(head, source, digest, decoder, emit)
        if pump is not None:
            _close_quietly(sink)
            pump.finish()
    except _Damaged as exc:
        _close_quietly(sink)
        for child in children:
            child.kill()
            child.wait()
        raise DamagedArchiveError(archive, str(exc)) from None
    _close_quietly(sink)
    if zstd_proc is not None:
        zstd_err = zstd_proc.stderr.read() if zstd_proc.stderr else b""
        if zstd_proc.wait() != 0:
            tar.wait()
            reason = _first_line(zstd_err) or f"zstd exit status {zstd_proc.returncode}"
            raise DamagedArchiveError(archive, reason)
    status = tar.wait()
    names = listing.result()
    tar_errors = messages.result().decode("utf-8", "replace")
    return Extraction(digest.hexdigest(), names, status, tar_errors)


def _grow_pipe(fd: int) -> None:
    """Ask for a pipe of ``_PIPE_SIZE`` bytes (Linux ``F_SETPIPE_SZ``); keep the default
    capacity where that is refused (other systems, a user over its pipe quota)."""
    import fcntl

    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_SIZE)


class _Pump:
    """Copy a ``zstd -d`` child's output to tar in a thread, counting it: past ``limit``
    bytes the child is killed and :meth:`finish` raises (a bomb writes at most ``limit``)."""

    def __init__(self, child: subprocess.Popen[bytes], sink: IO[bytes], limit: int) -> None:
        import threading

        assert child.stdout is not None
        self.child = child
        self.source = child.stdout
        self.sink = sink
        self.limit = limit
        self.exceeded = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        emit, _closed = _writer(self.sink, self.limit)
        try:
            while True:
                chunk = self.source.read1(_MAX_OUT)  # type: ignore[attr-defined]  # BufferedReader
                if not chunk:
                    break
                emit(chunk)
        except _Damaged:
            self.exceeded = True
            self.child.kill()
        finally:
            self.source.close()
            _close_quietly(self.sink)

    def finish(self) -> None:
        """Wait for the copy; raise :class:`_Damaged` when the output passed the limit."""
        self.thread.join()
        if self.exceeded:
            raise _too_large(self.limit)


class Range:
    """At most ``length`` bytes of ``stream`` from its current position, as a readable."""

    def __init__(self, stream: IO[bytes], length: int) -> None:
        self.stream = stream
        self.left = length

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left for ``-1``); ``b""`` at the end."""
        want = self.left if size < 0 else min(size, self.left)
        data = self.stream.read(want) if want else b""
        self.left -= len(data)
        return data


class _Drain:
    """Read a child's pipe to its end in a thread (so that the child never blocks on it)."""

    def __init__(self, stream: IO[bytes]) -> None:
        import threading

        self.stream = stream
        self.chunks: list[bytes] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            chunk = self.stream.read(1 << 16)
            if not chunk:
                break
            self.chunks.append(chunk)
        self.stream.close()

    def result(self) -> bytes:
        self.thread.join()
        return b"".join(self.chunks)


def _decompress(
    head: bytes, source: IO[bytes] | Range, digest: Any, decoder: Any, emit: Callable[[bytes], None]
) -> None:
    decoder.feed(head, emit)
    while True:
        chunk = source.read(CHUNK)
        if not chunk:
            break
        digest.update(chunk)
        decoder.feed(chunk, emit)
    decoder.finish(emit)


def _copy_raw(
    head: bytes, source: IO[bytes] | Range, digest: Any, emit: Callable[[bytes], None]
) -> None:
    emit(head)
    while True:
        chunk = source.read(CHUNK)
        if not chunk:
            break
        digest.update(chunk)
        emit(chunk)


def _spawn(argv: list[str], archive: Path, tool: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(argv, **kwargs)
    except OSError as exc:
        raise RunnerError(
            f"cannot unpack {archive}: {tool} is needed and was not found ({exc.strerror})",
            hint=f"install {tool} on this node or put it on PATH"
            + (", or install the Python module zstandard" if tool == "zstd" else ""),
        ) from exc


def _close_quietly(stream: IO[bytes]) -> None:
    with contextlib.suppress(BrokenPipeError):
        stream.close()


def _first_line(data: bytes) -> str:
    for line in data.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line.strip()
    return ""
