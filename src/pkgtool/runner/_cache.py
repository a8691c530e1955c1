"""The node's environment cache, for ``pkg cache list`` and ``pkg cache prune``.

Each ``<root>/<id>/`` is an environment (a legacy archive, or the env layer of a layered
one) or a code layer (``pkgtool-code/`` only; its marker's third line says ``code``). A
code layer is handled like an environment: listed, pruned, kept while in use.

An entry ``<root>/<id>/`` is *in use* while any process holds a lock on
``<root>/<id>.lock``: a running command holds a shared one (inherited from whichever runner
started it), a run that is unpacking or a prune holds an exclusive one. An environment is
also in use while a code layer that a record (``.key-<key>``: ``<envid> <codeid>``) pairs
with it is: the sh runner's warm path locks only the code layer of a layered archive (one
``flock`` process instead of two), which keeps its environment too. Prune takes the
exclusive locks without waiting (the environment's and those of its paired code layers,
held while it removes the tree) and skips what it cannot lock, so it never removes an
environment a command is using. It removes the marker first, then the tree, so a run that
was waiting for the lock finds no marker and unpacks again. Lock files are kept (removing
one that another process has open would let two processes lock "the same" file).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from pkgtool.runner import CODE_DIR, MARKER
from pkgtool.runner._claim import dead_work
from pkgtool.runner._lock import open_lock, try_exclusive

_ID = re.compile(r"[0-9a-f]{32}")
LIST_FORMAT = 1
"""Version of the ``pkg cache list --json`` document."""


@dataclasses.dataclass(frozen=True)
class CachedEnvironment:
    """One environment (or code layer) of the cache.

    ``archive``: absolute path of the archive it was unpacked from (``""`` if unknown);
    ``size``: bytes on disk (allocated blocks, hard links counted once); ``last_use``: seconds
    since the epoch (the lock file's mtime, set by every run); ``ready``: the marker exists
    (otherwise it is being unpacked, or a run died); ``in_use``: a process holds its lock;
    ``kind``: ``env`` (an environment: a legacy archive or the env layer of a layered one)
    or ``code`` (the code layer of a layered archive).
    """

    id: str
    path: Path
    archive: str
    size: int
    last_use: float
    ready: bool
    in_use: bool
    kind: str = "env"


@dataclasses.dataclass(frozen=True)
class PruneResult:
    """What ``prune`` did: ids removed, ids kept because in use, bytes freed."""

    removed: tuple[str, ...]
    in_use: tuple[str, ...]
    freed: int


def _ids(root: Path) -> Iterator[str]:
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return
    for name in names:
        if _ID.fullmatch(name) and os.path.isdir(root / name) and not os.path.islink(root / name):
            yield name


def _paired_code(root: Path, env_id: str) -> list[str]:
    """The code layer ids that records pair with the environment ``env_id``, sorted."""
    found = set()
    try:
        names = os.listdir(root)
    except OSError:
        return []
    for name in names:
        if not name.startswith(".key-") or name.endswith(".lock") or ".tmp" in name:
            continue
        try:
            with open(root / name, encoding="ascii", errors="replace") as record:
                ids = record.read(80).split()
        except OSError:
            continue
        if len(ids) == 2 and ids[0] == env_id and _ID.fullmatch(ids[1]):
            found.add(ids[1])
    return sorted(found)


def _lock_unused(root: Path, env_id: str) -> list[int] | None:
    """Exclusive locks, never waiting, on ``<env_id>.lock`` and then on the lock of every
    code layer a record pairs with it, as descriptors to close; ``None`` (nothing held) when
    one is held by someone else. The records are read once the first lock is held: a record
    written later would come from a run holding that lock."""
    fds = [open_lock(root / f"{env_id}.lock")]
    if try_exclusive(fds[0]):
        for code_id in _paired_code(root, env_id):
            path = root / f"{code_id}.lock"
            if not path.exists():
                continue  # nobody ever locked it
            fds.append(open_lock(path))
            if not try_exclusive(fds[-1]):
                break
        else:
            return fds
    for fd in fds:
        os.close(fd)
    return None


def _in_use(root: Path, env_id: str) -> bool:
    if not (root / f"{env_id}.lock").exists():
        return False
    fds = _lock_unused(root, env_id)
    for fd in fds or ():
        os.close(fd)
    return fds is None


def disk_usage(path: Path) -> int:
    """Bytes allocated under ``path`` (``st_blocks * 512``; hard links counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, _dirs, files in os.walk(path):
        for name in [".", *files]:
            try:
                info = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            total += info.st_blocks * 512
    return total


def _describe(root: Path, env_id: str) -> CachedEnvironment:
    prefix = root / env_id
    archive = ""
    kind = "env"
    try:
        with open(prefix / MARKER, encoding="utf-8", errors="replace") as marker:
            lines = marker.read(65536).splitlines()
        ready = True
        archive = lines[1] if len(lines) > 1 else ""
        kind = "code" if lines[2:3] == ["code"] else "env"
    except OSError:
        ready = False
        with contextlib.suppress(OSError):
            kind = "code" if os.listdir(prefix) == [CODE_DIR] else "env"
    try:
        last_use = os.stat(root / f"{env_id}.lock").st_mtime
    except OSError:
        last_use = os.stat(prefix).st_mtime
    return CachedEnvironment(
        id=env_id,
        path=prefix,
        archive=archive,
        size=disk_usage(prefix),
        last_use=last_use,
        ready=ready,
        in_use=_in_use(root, env_id),
        kind=kind,
    )


def list_environments(root: Path) -> list[CachedEnvironment]:
    """Every environment and code layer under the cache root ``root`` (an absolute path),
    sorted by id."""
    return [_describe(root, env_id) for env_id in _ids(root)]


def prune(root: Path, *, older_than: float | None = None, everything: bool = False) -> PruneResult:
    """Remove environments and code layers nobody is using: incomplete ones always; ready
    ones last used more than ``older_than`` seconds ago, or all of them with ``everything``.
    Also removes work directories of dead runs and records that name a removed or missing
    environment or layer (the next run of that archive unpacks what is missing).

    Raises :class:`~pkgtool.errors.RunnerError` when a tree cannot be removed.
    """
    from pkgtool.runner._cold import remove_tree

    now = time.time()
    removed: list[str] = []
    busy: list[str] = []
    freed = 0
    for env_id in list(_ids(root)):
        prefix = root / env_id
        fds = _lock_unused(root, env_id)
        if fds is None:
            busy.append(env_id)
            continue
        try:
            ready = os.path.exists(prefix / MARKER)
            last_use = os.fstat(fds[0]).st_mtime
            old = older_than is not None and now - last_use > older_than
            if ready and not (everything or old):
                continue
            size = disk_usage(prefix)
            if ready:
                os.unlink(prefix / MARKER)
            remove_tree(prefix)
            removed.append(env_id)
            freed += size
        finally:
            for fd in fds:
                os.close(fd)
    _remove_records(root, set(removed))
    freed += _remove_dead_work(root)
    return PruneResult(tuple(removed), tuple(busy), freed)


def _remove_records(root: Path, removed: set[str]) -> None:
    for name in os.listdir(root):
        if not name.startswith(".key-") or name.endswith(".lock"):
            continue
        path = root / name
        try:
            with open(path, encoding="ascii", errors="replace") as record:
                ids = record.read(80).split()
        except OSError:
            continue
        if not ids or any(i in removed or not _ID.fullmatch(i) or not (root / i).is_dir()
                          for i in ids):  # fmt: skip
            os.unlink(path)


def _remove_dead_work(root: Path) -> int:
    from pkgtool.runner._cold import remove_tree

    freed = 0
    for name in os.listdir(root):
        if not name.startswith(".work-"):
            continue
        path = root / name
        if dead_work(root, name, None) and stat.S_ISDIR(os.lstat(path).st_mode):
            freed += disk_usage(path)
            remove_tree(path)
    return freed


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """Seconds in ``text``: a number with an optional unit s, m, h, d or w (``7d``, ``12h``,
    ``90``). Raises :class:`ValueError` naming the text."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smhdw]?)\s*", text)
    if match is None:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 30m, 12h, 7d, 2w)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]
