"""The build cache: content-addressed resolutions, conda layers and archives.

Layout under the cache directory (``--cache-dir``, ``$PKG_BUILD_CACHE_DIR``, or
``~/.cache/pkgtool``)::

    rattler/                    rattler's repodata and package caches
    channels/local-python-*/    local channels made by --local-python
    resolutions/<key>.json      spec + options -> lock (reused unless --refresh)
    layers/conda-<key>/         an installed, relocatable conda layer (key: Lock.conda_key)
    archives/<key>/             a finished archive and its lock (key: archive_key)
    pip-files/                  the locks' pip files (wheels, sdists), sha256-checked
    pip-dists/<key>/            one installed pip distribution's bytecode and archive parts
                                (key: :func:`pkgtool.builder.distcache.distribution_key`)
    logs/                       tool output of recent builds (named in error hints)

Entries are written under a temporary name and renamed into place, so a crashed build
leaves no entry that looks complete. :func:`prune` keeps ``layers/``, ``pip-dists/`` and
``archives/`` under a size bound (``$PKG_BUILD_CACHE_LIMIT``, default :data:`DEFAULT_LIMIT` bytes),
removing the least recently used first.

The staging prefix is not in the cache: it is a fixed path derived from the conda layer's
key (:func:`staging_prefix`), because the prefix path ends up inside the archive (the
``conda-unpack`` records, pip's entry-point scripts and bytecode file names), and the same
lock must give the same bytes whatever cache directory builds it.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pkgtool.errors import BuildError

DEFAULT_LIMIT = 10 * 2**30
"""Default size bound of ``layers/`` + ``pip-dists/`` + ``archives/`` in bytes (10 GiB)."""

STAGING_ROOT = Path("/tmp")
"""Where staging prefixes live by default (a fixed path: see the module docstring);
``$PKG_STAGING_ROOT`` overrides it (e.g. where ``/tmp`` is mounted ``noexec``), which
changes the bytes of the archives built."""

STAGING_PREFIX_LENGTH = 100
"""Length in characters of the staging prefix path: conda-unpack can rewrite binary files
only to a prefix no longer than the one they were built in, so a long build prefix lets
the archive unpack into long paths."""


@dataclass(frozen=True)
class BuildCache:
    """The build cache rooted at ``root`` (an absolute path)."""

    root: Path

    @property
    def rattler(self) -> Path:
        return self.root / "rattler"

    @property
    def pip_files(self) -> Path:
        """The lock's pip files by file name (sha256-checked on every use)."""
        return self.root / "pip-files"

    @property
    def pip_dists(self) -> Path:
        """Per pip distribution: its bytecode and compressed archive parts."""
        return self.root / "pip-dists"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def resolution(self, key: str) -> Path:
        return self.root / "resolutions" / f"{key}.json"

    def layer(self, conda_key: str) -> Path:
        return self.root / "layers" / f"conda-{conda_key[:32]}"

    def archive(self, key: str) -> Path:
        return self.root / "archives" / key[:32]

    def new_log(self) -> Path:
        """A fresh log file path; keeps the 20 newest logs."""
        self.logs.mkdir(parents=True, exist_ok=True)
        old = sorted(self.logs.glob("*.log"), key=lambda p: p.stat().st_mtime)
        for path in old[:-19]:
            path.unlink(missing_ok=True)
        return self.logs / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"

    def read_json(self, path: Path) -> Any:
        """The JSON at ``path``, or None when missing or unreadable; touches it (LRU)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        touch(path)
        return data

    def write_json(self, path: Path, data: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())


def key_of(*parts: Any) -> str:
    """sha256 hex of the JSON of ``parts`` (sorted keys): a cache key."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def staging_prefix(conda_key: str) -> Path:
    """The staging prefix for the conda layer ``conda_key``: ``/tmp/pkgtool-build-<key>-``
    (``$PKG_STAGING_ROOT`` instead of ``/tmp``) padded with ``_placehold`` to at least
    :data:`STAGING_PREFIX_LENGTH` characters."""
    root = os.environ.get("PKG_STAGING_ROOT") or str(STAGING_ROOT)
    base = f"{root.rstrip('/')}/pkgtool-build-{conda_key[:16]}-"
    pad = STAGING_PREFIX_LENGTH - len(base)
    return Path(base + ("_placehold" * (pad // 10 + 1))[: max(pad, 0)])


@contextmanager
def staging(conda_key: str) -> Iterator[Path]:
    """Hold the staging prefix of ``conda_key`` for one build (an exclusive ``flock`` on a
    lock file beside it; a second build of the same layer waits) and yield its path,
    empty. It is removed afterwards.

    Raises:
        BuildError: the path or its lock file belongs to another user, or is a symlink.
    """
    prefix = staging_prefix(conda_key)
    lock_path = prefix.with_name(prefix.name[:40] + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise BuildError(
            f"cannot open the staging lock {lock_path}: {exc}",
            hint="another user may be building the same environment here; retry later",
        ) from exc
    try:
        if os.fstat(fd).st_uid != os.getuid():
            raise BuildError(
                f"the staging lock {lock_path} belongs to another user",
                hint="another user is building the same environment here; retry later",
            )
        fcntl.flock(fd, fcntl.LOCK_EX)
        _clear(prefix)
        try:
            yield prefix
        finally:
            _clear(prefix)
    finally:
        os.close(fd)


def _clear(prefix: Path) -> None:
    if prefix.is_symlink():
        raise BuildError(f"staging prefix {prefix} is a symlink", hint="remove it")
    if prefix.exists():
        if prefix.stat().st_uid != os.getuid():
            raise BuildError(
                f"staging prefix {prefix} belongs to another user",
                hint="another user is building the same environment here; retry later",
            )
        shutil.rmtree(prefix)


def clone_tree(src: Path, dest: Path) -> None:
    """Recreate the tree ``src`` at ``dest`` (which must not exist): directories, symlinks
    as they are, files as hard links (copies across filesystems). Callers must never write
    into a cloned file in place: replace it (write + rename) or unlink it."""
    link = True
    for directory, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(directory, src)
        out = dest if rel == "." else dest / rel
        out.mkdir(exist_ok=rel != ".", parents=rel == ".")
        for name in dirnames + filenames:
            source = os.path.join(directory, name)
            target = out / name
            if os.path.islink(source):
                os.symlink(os.readlink(source), target)
            elif name in filenames:
                if link:
                    try:
                        os.link(source, target)
                        continue
                    except OSError as exc:
                        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                            raise
                        link = False
                shutil.copy2(source, target)


def store_tree(src: Path, final: Path, meta: Mapping[str, Any]) -> None:
    """Clone ``src`` into the cache entry ``final/prefix`` with ``final/meta.json``; the entry
    appears complete or not at all."""
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        clone_tree(src, work / "prefix")
        write_atomic(work / "meta.json", json.dumps(dict(meta), sort_keys=True).encode())
        shutil.rmtree(final, ignore_errors=True)
        os.rename(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def prune(cache: BuildCache, limit: int | None = None, keep: tuple[Path, ...] = ()) -> int:
    """Remove least recently used entries of ``layers/``, ``pip-dists/`` and ``archives/``
    until they total at
    most ``limit`` bytes (default ``$PKG_BUILD_CACHE_LIMIT`` or :data:`DEFAULT_LIMIT`),
    never an entry in ``keep``. Returns the bytes removed."""
    if limit is None:
        limit = parse_size(os.environ.get("PKG_BUILD_CACHE_LIMIT", "")) or DEFAULT_LIMIT
    entries = []
    for kind in ("layers", "pip-dists", "archives"):
        base = cache.root / kind
        if base.is_dir():
            entries += [p for p in base.iterdir() if not p.name.startswith(".")]
    sized = [(_used(p), _size(p), p) for p in entries]
    total = sum(s for _, s, _ in sized)
    removed = 0
    for _, size, path in sorted(sized):
        if total - removed <= limit:
            break
        if path in keep:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += size
    return removed


def parse_size(text: str) -> int | None:
    """``"10G"``, ``"500M"``, ``"2048"`` -> bytes (powers of 1024); None if not a size."""
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}.get(text[-1:], 1)
    digits = text[:-1] if scale > 1 else text
    return int(digits) * scale if digits.isdigit() else None


def touch(path: Path) -> None:
    """Mark a cache entry as used now (for :func:`prune`)."""
    with suppress(OSError):
        os.utime(path)


def _used(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _size(path: Path) -> int:
    total = 0
    seen: set[tuple[int, int]] = set()
    for directory, _, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total
