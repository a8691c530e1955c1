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
import stat
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


STAGING_HINT = (
    "another user holds this path; set PKG_STAGING_ROOT to a directory only you can write "
    "(archives built under another root differ), or have the path removed"
)
"""The hint of every refusal of a staging path another user holds (an unavoidable denial of
service: on a shared ``/tmp`` anyone can create the predictable path first)."""


@dataclass(frozen=True)
class Staging:
    """A staging prefix this build created itself (``mkdir`` mode 0700, which fails when the
    path exists): ``path``, and the device and inode of the directory it made."""

    path: Path
    dev: int
    ino: int

    def check(self) -> None:
        """Re-check, before anything staged is cached, that ``path`` is still the private
        directory this build made (same inode, owned by this user, writable by no one else).

        Raises:
            BuildError: it is not (exit 5).
        """
        try:
            st = os.lstat(self.path)
        except OSError as exc:
            raise BuildError(
                f"staging prefix {self.path} vanished: {exc}", hint=STAGING_HINT
            ) from exc
        if (st.st_dev, st.st_ino) != (self.dev, self.ino) or not _private_dir(st):
            raise BuildError(
                f"staging prefix {self.path} was replaced or opened to others during the build",
                hint=STAGING_HINT,
            )


def _private_dir(st: os.stat_result) -> bool:
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


@contextmanager
def staging(conda_key: str) -> Iterator[Staging]:
    """Hold the staging prefix of ``conda_key`` for one build (an exclusive ``flock`` on a
    lock file beside it; a second build of the same layer waits) and yield it, empty, as a
    directory this build created itself, mode 0700 (``mkdir`` fails when the path exists:
    nobody else can have put a file in it). It is removed afterwards.

    Raises:
        BuildError: the staging root can be written by others without the sticky bit; the
            path or its lock file belongs to another user (exit 5, hint
            :data:`STAGING_HINT`).
    """
    prefix = staging_prefix(conda_key)
    _check_staging_root(prefix.parent)
    lock_path = prefix.with_name(prefix.name[:40] + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise BuildError(
            f"cannot open the staging lock {lock_path}: {exc}", hint=STAGING_HINT
        ) from exc
    try:
        st = os.fstat(fd)
        if st.st_uid != os.getuid() or not stat.S_ISREG(st.st_mode):
            raise BuildError(
                f"the staging lock {lock_path} belongs to another user", hint=STAGING_HINT
            )
        fcntl.flock(fd, fcntl.LOCK_EX)
        made = _make_private(prefix)
        try:
            yield made
        finally:
            _clear(prefix)
    finally:
        os.close(fd)


def _make_private(prefix: Path) -> Staging:
    """Remove this user's old ``prefix`` (a crashed build's) and create it anew, mode 0700."""
    _clear(prefix)
    try:
        os.mkdir(prefix, 0o700)
    except FileExistsError:  # created since _clear: by someone else (we hold the lock)
        raise BuildError(
            f"staging prefix {prefix} belongs to another user", hint=STAGING_HINT
        ) from None
    os.chmod(prefix, 0o700)  # whatever the umask
    st = os.lstat(prefix)
    if not _private_dir(st):
        raise BuildError(f"staging prefix {prefix} is not private after mkdir", hint=STAGING_HINT)
    return Staging(prefix, st.st_dev, st.st_ino)


def _check_staging_root(root: Path) -> None:
    """Refuse a staging root any of whose directories another user could use to move the
    prefix away: writable by group or others without the sticky bit, or owned by someone
    other than root and this user."""
    for directory in (root, *root.parents):
        try:
            st = os.stat(directory)
        except OSError as exc:
            raise BuildError(
                f"cannot use the staging root {root}: {exc.strerror or exc}",
                hint="set PKG_STAGING_ROOT to an existing directory only you can write",
            ) from exc
        loose = st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX
        if loose or st.st_uid not in (0, os.getuid()):
            raise BuildError(
                f"the staging root {root} is unsafe: {directory} can be written by other users",
                hint="set PKG_STAGING_ROOT to a directory only you can write (or one with the "
                "sticky bit, like /tmp)",
            )


def _clear(prefix: Path) -> None:
    try:
        st = os.lstat(prefix)
    except FileNotFoundError:
        return
    if st.st_uid != os.getuid():
        raise BuildError(f"staging prefix {prefix} belongs to another user", hint=STAGING_HINT)
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(prefix)
    else:  # this user's symlink or file: never followed
        os.unlink(prefix)


def clone_tree(src: Path, dest: Path) -> None:
    """Recreate the tree ``src`` at ``dest`` (absent or an empty directory): directories, symlinks
    as they are, files as hard links (copies across filesystems). Callers must never write
    into a cloned file in place: replace it (write + rename) or unlink it."""
    link = True
    for directory, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(directory, src)
        out = dest if rel == "." else dest / rel
        out.mkdir(exist_ok=True, parents=rel == ".")  # dest: empty, or absent
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


class Pending:
    """Cache entries one build wrote under temporary names (``.<name>.<random>`` beside
    where they belong): renamed into place by :meth:`commit` once the whole build
    succeeded, removed by :meth:`discard` otherwise, so a failed build stores nothing."""

    def __init__(self) -> None:
        self._entries: list[tuple[Path, Path]] = []

    def new(self, final: Path) -> Path:
        """A fresh temporary directory for the entry ``final``, committed with the rest."""
        final.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        self._entries.append((work, final))
        return work

    def commit(self, staged: Staging | None) -> None:
        """Re-check the staging prefix (``staged``), then put every entry in place."""
        if staged is not None:
            staged.check()
        while self._entries:
            work, final = self._entries.pop(0)
            shutil.rmtree(final, ignore_errors=True)
            try:
                os.rename(work, final)
            except OSError:
                shutil.rmtree(work, ignore_errors=True)
                if not final.is_dir():
                    raise
                # else: a concurrent build stored the same entry first (verified on use)

    def discard(self) -> None:
        for work, _ in self._entries:
            shutil.rmtree(work, ignore_errors=True)
        self._entries.clear()


@contextmanager
def pending() -> Iterator[Pending]:
    """A :class:`Pending` whose uncommitted entries are removed however the block ends."""
    entries = Pending()
    try:
        yield entries
    finally:
        entries.discard()


def store_tree(src: Path, final: Path, meta: Mapping[str, Any], entries: Pending) -> Path:
    """Clone ``src`` into the cache entry ``final/prefix`` with ``final/meta.json`` (adding
    ``digests``: every regular file's sha256, checked by :func:`verify_tree`), as a pending
    entry of ``entries``; return the directory it is in until committed."""
    work = entries.new(final)
    clone_tree(src, work / "prefix")
    digests = tree_digests(work / "prefix")
    data = {**dict(meta), "digests": digests}
    write_atomic(work / "meta.json", json.dumps(data, sort_keys=True).encode())
    return work


def tree_digests(root: Path) -> dict[str, str]:
    """``{path relative to root: sha256 hex}`` of every regular file under ``root``, and
    ``{path: "-> target"}`` of every symlink."""
    out: dict[str, str] = {}
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(directory, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                out[rel] = "-> " + os.readlink(path)
            elif name in filenames:
                out[rel] = file_sha256(Path(path))
    return out


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_tree(root: Path, digests: Any) -> str | None:
    """None when the tree at ``root`` is exactly ``digests`` (:func:`tree_digests`), else
    what is wrong (the first difference)."""
    if not isinstance(digests, dict) or not digests:
        return "no file digests recorded"
    try:
        found = tree_digests(root)
    except OSError as exc:
        return f"unreadable: {exc}"
    missing = sorted(set(digests) - set(found))
    if missing:
        return f"{len(missing)} files missing ({missing[0]} ...)"
    extra = sorted(set(found) - set(digests))
    if extra:
        return f"unexpected file {extra[0]}"
    changed = sorted(p for p in digests if digests[p] != found[p])
    return f"{changed[0]} changed" if changed else None


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
