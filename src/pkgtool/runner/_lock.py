"""``flock(2)`` locks of the cache, polled until a timeout.

- ``<root>/.key-<key>.lock``: exclusive while one run reads and extracts that archive file
  (one extraction per file at a time);
- ``<root>/<id>.lock``: exclusive while an environment is installed or pruned; shared, and
  inherited by the command, while a command runs in it (``pkg cache prune`` needs it
  exclusive). Opening it truncates it (it is always empty), which sets its mtime: the last use.

The POSIX runner takes the same kernel locks with ``flock(1)``, so the two runners exclude
each other. Lock files are never removed: removing a lock file that another process has open
and is waiting on would let two runs hold "the" lock at once.
"""

from __future__ import annotations

import fcntl
import os
import time

from pkgtool.errors import RunnerError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (ms on the warm path)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from contextlib import AbstractContextManager

    from _typeshed import StrPath

POLL_INTERVAL = 0.05
"""Seconds between two attempts to take a busy lock."""


def open_lock(path: StrPath, *, touch: bool = False) -> int:
    """Open (create 0600) the lock file ``path``; ``touch`` truncates it to set its mtime.

    The descriptor is not inherited by children unless made so (PEP 446).
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if touch else 0)
    try:
        return os.open(path, flags, 0o600)
    except OSError as exc:
        raise RunnerError(
            f"cannot open lock file {path}: {exc.strerror}",
            hint="check that the cache directory is writable and not full",
        ) from exc


def acquire(fd: int, path: StrPath, timeout: float, *, shared: bool = False) -> None:
    """Take (or convert to) a shared or exclusive lock on ``fd``, polling for ``timeout`` s.

    0 means a single attempt. Raises :class:`RunnerError` on timeout.
    """
    operation = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, operation)
            return
        except BlockingIOError:
            pass
        _pause(deadline, timeout, path, "archive")


def _pause(deadline: float, timeout: float, path: StrPath, what: str) -> None:
    """Sleep before the next attempt, or raise :class:`RunnerError` once ``deadline``
    (``time.monotonic()``) has passed."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise RunnerError(
            f"timed out after {timeout:g} s waiting for lock {path} held by another run",
            hint=f"another run is unpacking this {what}: retry later or raise "
            "PKG_LOCK_TIMEOUT (seconds)",
        )
    time.sleep(min(POLL_INTERVAL, remaining))


def try_exclusive(fd: int) -> bool:
    """Take an exclusive lock on ``fd`` if nobody holds any lock on it; never waits."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def exclusive_lock(path: StrPath, timeout: float) -> AbstractContextManager[int]:
    """Hold an exclusive lock on ``path`` for the block; yields the descriptor."""
    import contextlib  # here, not at the top: the warm path imports this module (~3 ms)

    return contextlib.contextmanager(_exclusive_lock)(path, timeout)


def _exclusive_lock(path: StrPath, timeout: float) -> Iterator[int]:
    fd = open_lock(path)
    try:
        acquire(fd, path, timeout)
        yield fd
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


def claim(fd: int, path: StrPath, timeout: float, marker: StrPath) -> bool:
    """Lock ``fd`` to install what ``marker`` marks ready, unless another run does it first.

    Returns ``True`` holding an exclusive lock (``marker`` absent: install now), or ``False``
    holding a shared lock (``marker`` present: another run installed it, and perhaps runs a
    command in it, which a plain exclusive request would wait for). Polls for ``timeout`` s;
    raises :class:`RunnerError` on timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        if try_exclusive(fd):
            if not os.path.exists(marker):
                return True
            fcntl.flock(fd, fcntl.LOCK_SH)  # we hold it exclusively: no wait
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            if os.path.exists(marker):
                return False
            fcntl.flock(fd, fcntl.LOCK_UN)
        _pause(deadline, timeout, path, "layer")
