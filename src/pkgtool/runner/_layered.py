"""The cold path of a layered archive (docs/runner.md, "Layered archives").

Under the archive file's key lock, with the index already read and checked (``_layers``):

1. for each of the ``env`` and ``code`` layers, take a shared lock on ``<root>/<id>.lock``
   (waiting while a run installs or a prune removes it) and look for
   ``<root>/<id>/.pkgtool-ready``; a ready layer keeps its shared lock (no prune removes it
   while this run goes on), a missing one is unlocked again;
2. read the rest of the archive once, layer by layer: a ready layer is only hashed; a missing
   one is hashed, decompressed (every CRC/checksum) and extracted by GNU tar into
   ``<root>/.work-<key>_<owner>/<kind>/``; the ``end`` layer must decode to exactly 1024 zero bytes;
3. every SHA-256 must match the index, and the extracted trees pass the safety checks
   (``_extract``; a code layer holds only directories and regular files under
   ``pkgtool-code/``), all before anything is committed;
4. commit each missing layer (env first): claim ``<id>.lock`` (exclusive, or shared if another
   run installed it meanwhile, see :func:`~pkgtool.runner._lock.claim`) and the claim
   ``<root>/.claim-<id>`` (see :mod:`~pkgtool.runner._claim`), rename the tree to
   ``<root>/<id>``; for env check the node and run conda-unpack; then remove the work
   directory and write the markers; turn every lock shared; write the record
   ``.key-<key>`` (``<envid> <codeid>``, or ``<envid>`` alone).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
from pathlib import Path
from typing import List, Optional, Tuple

from pkgtool.errors import RunnerError
from pkgtool.runner import CODE_DIR, MARKER, ArchiveFile, _claim
from pkgtool.runner._extract import (
    check_code_names,
    check_code_tree,
    check_names,
    check_tree,
)
from pkgtool.runner._layers import Index, Layer, zstandard
from pkgtool.runner._lock import acquire, claim, open_lock
from pkgtool.runner._node import check_node
from pkgtool.runner._stream import (
    CHUNK,
    DamagedArchiveError,
    Extraction,
    Range,
    _Damaged,
    _Gunzip,
    _Unzstd,
    child_environ,
    stream_extract,
)

END_BYTES = 1024
"""What the ``end`` layer decodes to: two 512-byte zero blocks."""

Ready = Tuple[str, Optional[str], List[int]]  # typing's: evaluated at run time (3.8)


def unpack_layered(
    source: ArchiveFile,
    root: Path,
    work: Path,
    index: Index,
    timeout: float,
    key_fd: int,
    children: list[subprocess.Popen[bytes]],
) -> Ready:
    """Install the missing layers of ``source`` (steps in the module docstring); return the
    env prefix, the code directory (``<root>/<codeid>/pkgtool-code``, or ``None``) and the
    descriptors holding shared locks on every layer's ``<id>.lock``.

    Raises :class:`~pkgtool.runner._stream.DamagedArchiveError`, :class:`RunnerError`.
    """
    archive = Path(source.path)
    layers = [index.env, *([index.code] if index.code else [])]
    if index.code is not None and index.code.id == index.env.id:
        raise DamagedArchiveError(archive, "the env and code layers have the same id")
    fds: dict[str, int] = {}
    try:
        ready = _lock_ready_layers(root, layers, timeout, fds)
        trees = _read_layers(source, index, work, ready, (key_fd, *fds.values()), children)
        _commit(source, root, work, layers, trees, fds, timeout, (key_fd, *fds.values()),
                children)  # fmt: skip
        for layer in layers:
            if not os.path.exists(root / layer.id / MARKER):  # a prune slipped in: rare
                raise RunnerError(
                    f"layer {layer.id} was removed while {archive} was starting",
                    hint="run the command again",
                )
        _write_record(root, source.key, " ".join(layer.id for layer in layers))
    except BaseException:
        for fd in fds.values():
            os.close(fd)
        raise
    code = str(root / index.code.id / CODE_DIR) if index.code else None
    return str(root / index.env.id), code, list(fds.values())


def _lock_ready_layers(
    root: Path, layers: list[Layer], timeout: float, fds: dict[str, int]
) -> dict[str, bool]:
    ready = {}
    for layer in layers:
        path = root / f"{layer.id}.lock"
        fd = fds[layer.id] = open_lock(path, touch=True)
        acquire(fd, path, timeout, shared=True)
        ready[layer.id] = os.path.exists(root / layer.id / MARKER)
        if not ready[layer.id]:
            fcntl.flock(fd, fcntl.LOCK_UN)
    return ready


def _read_layers(
    source: ArchiveFile,
    index: Index,
    work: Path,
    ready: dict[str, bool],
    keep_fds: tuple[int, ...],
    children: list[subprocess.Popen[bytes]],
) -> dict[str, Path]:
    """One pass over the layers; returns the work trees of the extracted (missing) ones."""
    archive = Path(source.path)
    extracted: list[tuple[Layer, Path, Extraction]] = []
    source.stream.seek(source.offset + index.env.offset)
    for layer in index.layers:
        if layer.kind == "end":
            digest = _check_end(archive, source, layer, index.compression)
            if digest != layer.sha256:
                raise DamagedArchiveError(archive, "the SHA-256 of its end layer does not "
                                          "match its index")  # fmt: skip
            continue
        part = Range(source.stream, layer.length)
        if ready[layer.id]:
            digest = _hash(part)
        else:
            tree = work / layer.kind
            os.mkdir(tree, 0o700)
            result = stream_extract(
                archive, part, tree, keep_fds, children, index.compression, compressed=layer.length
            )
            digest = result.digest
            extracted.append((layer, tree, result))
        if part.left:
            raise DamagedArchiveError(archive, "it ends before its last layer does (truncated)")
        if digest != layer.sha256:
            raise DamagedArchiveError(
                archive, f"the SHA-256 of its {layer.kind} layer does not match its index"
            )
    for layer, tree, result in extracted:
        from pkgtool.runner._cold import check_extraction

        if layer.kind == "env":
            check_extraction(archive, work, tree, result, check_names, check_tree)
        else:
            check_extraction(archive, work, tree, result, check_code_names, check_code_tree)
    return {layer.id: tree for layer, tree, _result in extracted}


def _hash(part: Range) -> str:
    digest = hashlib.sha256()
    while True:
        chunk = part.read(CHUNK)
        if not chunk:
            return digest.hexdigest()
        digest.update(chunk)


def _check_end(archive: Path, source: ArchiveFile, layer: Layer, compression: str) -> str:
    """The SHA-256 of the ``end`` layer, after checking that it decodes to 1024 zero bytes
    and that nothing follows it (it is the payload's last byte, see ``parse_index``)."""
    start = source.offset + layer.offset
    data = Range(source.stream, layer.length).read()
    if len(data) != layer.length:
        raise DamagedArchiveError(archive, "it ends before its last layer does (truncated)")
    if source.stream.read(1):
        raise DamagedArchiveError(archive, "bytes after the end of its last layer")
    out = bytearray()

    def emit(chunk: bytes) -> None:
        out.extend(chunk)
        if len(out) > END_BYTES:
            raise _Damaged(f"its end layer decodes to more than {END_BYTES} bytes")

    module = zstandard() if compression == "zstd" else None
    try:
        if compression == "gzip" or module is not None:
            decoder = _Gunzip() if compression == "gzip" else _Unzstd(module)
            decoder.feed(data, emit)
            decoder.finish(emit)
        else:
            out.extend(_unzstd_child(archive, source, start))
    except _Damaged as exc:
        raise DamagedArchiveError(archive, str(exc)) from None
    if len(out) != END_BYTES or any(out):
        raise DamagedArchiveError(archive, f"its end layer is not {END_BYTES} zero bytes")
    return hashlib.sha256(data).hexdigest()


def _unzstd_child(archive: Path, source: ArchiveFile, start: int) -> bytes:
    """Decode from ``start`` to the end of the file with a ``zstd -d`` child reading the
    archive itself (no pipe to fill), keeping at most 1025 bytes of its output."""
    source.stream.seek(start)
    child = subprocess.Popen(
        ["zstd", "-d", "-c", "-q"], stdin=source.stream, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=child_environ(),
    )  # fmt: skip
    assert child.stdout is not None and child.stderr is not None
    out = child.stdout.read(END_BYTES + 1)
    if len(out) > END_BYTES:
        child.kill()
    child.wait()
    errors = child.stderr.read().decode("utf-8", "replace").strip()
    child.stdout.close()
    child.stderr.close()
    if child.returncode != 0 and len(out) <= END_BYTES:
        raise _Damaged(f"zstd: {errors.splitlines()[0] if errors else 'failed'}")
    return out


def _commit(
    source: ArchiveFile,
    root: Path,
    work: Path,
    layers: list[Layer],
    trees: dict[str, Path],
    fds: dict[str, int],
    timeout: float,
    keep_fds: tuple[int, ...],
    children: list[subprocess.Popen[bytes]],
) -> None:
    from pkgtool.runner._cold import (
        conda_unpack,
        remove_tree,
        stop_children,
        write_marker,
    )

    archive = Path(source.path)
    pending: list[tuple[Path, str]] = []
    claimed: list[str] = []
    try:
        for layer in layers:
            if layer.id not in trees:
                continue
            path = root / f"{layer.id}.lock"
            prefix = root / layer.id
            if not claim(fds[layer.id], path, timeout, prefix / MARKER):
                continue  # another run installed the same layer meanwhile
            if not _claim.take(root, layer.id, timeout):
                continue  # the same, under a lock that did not exclude
            claimed.append(layer.id)
            remove_tree(prefix)  # a dead run's leftover: only the claim's holder touches it
            os.rename(trees[layer.id], prefix)
            pending.append((prefix, layer.kind))
            if layer.kind == "env":
                check_node(prefix, archive)
                conda_unpack(prefix, keep_fds, children)
        remove_tree(work)  # before the markers: a kill in between leaves no stray work dir
        for prefix, _kind in pending:
            _claim.check_held(root, prefix.name)
        for prefix, kind in pending:
            write_marker(prefix, prefix.name, archive, kind)
        pending.clear()
        for layer in layers:
            acquire(fds[layer.id], root / f"{layer.id}.lock", timeout, shared=True)
    except BaseException:
        stop_children(children)
        for prefix, _kind in pending:
            if _claim.holds(root, prefix.name):
                remove_tree(prefix)
        raise
    finally:
        for layer_id in claimed:
            _claim.release(root, layer_id)


def _write_record(root: Path, key: str, ids: str) -> None:
    from pkgtool.runner._cold import write_record

    write_record(root, key, ids)
