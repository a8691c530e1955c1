"""The cold path's exclusive lock: ``flock(2)`` on ``<root>/<id>.lock``, polled until a timeout.

The POSIX runner takes the same kernel lock with ``flock -w SECONDS 9``, so the two runners
exclude each other. The lock file is never removed: removing a lock file that another process
has open and is waiting on would let two runs hold "the" lock at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from pkgtool.errors import RunnerError

POLL_INTERVAL = 0.1
"""Seconds between two attempts to take a busy lock."""


@contextlib.contextmanager
def exclusive_lock(path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive ``flock(2)`` on ``path`` (created 0600 if missing) for the block.

    ``timeout`` is in seconds; 0 means a single attempt. Raises :class:`RunnerError` when the
    lock is still held by another process after ``timeout`` seconds, or when ``path`` cannot be
    opened. The descriptor is not inherited by child processes (PEP 446).
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise RunnerError(
            f"cannot open lock file {path}: {exc.strerror}",
            hint="check that the cache directory is writable and not full",
        ) from exc
    try:
        _acquire(fd, path, timeout)
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


def _acquire(fd: int, path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RunnerError(
                f"timed out after {timeout:g} s waiting for lock {path} held by another run",
                hint="another run is unpacking this archive: retry later or raise "
                "PKG_LOCK_TIMEOUT (seconds)",
            )
        time.sleep(min(POLL_INTERVAL, remaining))
