"""``flock(2)`` locks of the cache, polled until a timeout.

- ``<root>/.key-<key>.lock``: exclusive while one run reads and extracts that archive file
  (one extraction per file at a time);
- ``<root>/<id>.lock``: exclusive while an environment is installed or pruned; shared, and
  inherited by the command, while a command runs in it (``pkg cache prune`` needs it
  exclusive). Opening it truncates it (it is always empty), which sets its mtime: the last use.

The POSIX runner takes the same kernel locks with ``flock(1)``, so the two runners exclude
each other. Lock files are never removed: removing a lock file that another process has open
and is waiting on would let two runs hold "the" lock at once.

:func:`open_lock` and :func:`acquire` (the warm path's shared lock) are defined in
:mod:`pkgtool.runner`, so that the warm path imports no module but that one.
"""

from __future__ import annotations

import fcntl
import os
import time

# The warm path's half lives in pkgtool.runner (it imports no other module of pkgtool).
from pkgtool.runner import POLL_INTERVAL, _pause, lock_unsupported
from pkgtool.runner import _acquire as acquire
from pkgtool.runner import _open_lock as open_lock

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator
    from contextlib import AbstractContextManager

    from _typeshed import StrPath

__all__ = ["POLL_INTERVAL", "acquire", "claim", "exclusive_lock", "open_lock", "try_exclusive"]


def try_exclusive(fd: int, path: StrPath = "a lock file of the cache") -> bool:
    """Take an exclusive lock on ``fd`` (the lock file ``path``) if nobody holds any lock on
    it; never waits. Raises :class:`RunnerError` when the filesystem has no ``flock``."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        raise lock_unsupported(path, exc) from exc
    return True


def exclusive_lock(path: StrPath, timeout: float) -> AbstractContextManager[int]:
    """Hold an exclusive lock on ``path`` for the block; yields the descriptor."""
    import contextlib  # here, not at the top: contextlib costs ~3 ms to import

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
        if try_exclusive(fd, path):
            if not os.path.exists(marker):
                return True
            fcntl.flock(fd, fcntl.LOCK_SH)  # we hold it exclusively: no wait
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        except OSError as exc:
            raise lock_unsupported(path, exc) from exc
        else:
            if os.path.exists(marker):
                return False
            fcntl.flock(fd, fcntl.LOCK_UN)
        _pause(deadline, timeout, path, "layer")
