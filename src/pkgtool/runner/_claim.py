"""Claims: who installs a layer, decided on the cache directory itself, not by ``flock``.

A ``flock`` that succeeds without excluding (two nodes of a shared filesystem whose locks do
not see each other) must never give a wrong environment, so the locks of :mod:`_lock` are
only an optimisation (runs wait instead of polling) and these atomic operations decide:

- every cold run has its own **work directory** ``<root>/.work-<key>_<owner>``;
- ``<owner>`` is ``<host>_<pid>_<random>`` (the node name with every byte outside
  ``[A-Za-z0-9.-]`` made ``-``);
- the **claim** of layer ``<id>`` is the symlink ``<root>/.claim-<id>`` to ``<owner>``,
  created with ``symlink(2)`` (atomic, fails if it exists). Only the run holding it removes a
  leftover ``<root>/<id>``, renames its tree there, runs conda-unpack and writes the marker
  (O_EXCL), then removes the claim. Every other run waits, polling, for the marker;
- a claim or a work directory whose owner is a dead process of this host is removed by the
  next run; one of another host is never removed automatically: a run waits for its marker
  until the lock timeout, then exits 125 naming it.

The POSIX runner (``pkg-run.sh``) makes the same names with ``ln -s`` and ``readlink``.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from pkgtool.errors import RunnerError
from pkgtool.runner import MARKER, POLL_INTERVAL

_OWNER: list[str] = []


def host() -> str:
    """This node's name, every character outside ``[A-Za-z0-9.-]`` made ``-``."""
    name = os.uname().nodename
    return "".join(c if c.isascii() and (c.isalnum() or c in ".-") else "-" for c in name)


def owner() -> str:
    """``<host>_<pid>_<random>``: this run, unique across the nodes sharing a cache."""
    if not _OWNER:
        _OWNER.append(f"{host()}_{os.getpid()}_{os.urandom(4).hex()}")
    return _OWNER[0]


def is_dead(text: str) -> bool:
    """Is ``text`` (an owner) a process of this host that no longer runs? ``False`` when it
    is alive, of another host or not an owner at all."""
    parts = text.split("_")
    if len(parts) != 3 or parts[0] != host() or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: alive, another user's (pid reused)
        return False
    return False


def _describe(text: str) -> str:
    parts = text.split("_")
    if len(parts) != 3:
        return repr(text)
    return f"pid {parts[1]} on host {parts[0]}"


def take(root: Path, layer_id: str, timeout: float) -> bool:
    """Claim layer ``layer_id`` of ``root``: ``True`` holding the claim (the marker is absent
    and nobody else installs it), ``False`` once another run's marker exists.

    Polls for ``timeout`` s; raises :class:`RunnerError` on timeout.
    """
    claim = root / f".claim-{layer_id}"
    marker = root / layer_id / MARKER
    deadline = time.monotonic() + timeout
    while not os.path.exists(marker):
        try:
            os.symlink(owner(), claim)
        except FileExistsError:
            pass
        else:
            if not os.path.exists(marker):
                return True
            release(root, layer_id)  # the last holder finished just before: use its work
            return False
        try:
            holder = os.readlink(claim)
        except FileNotFoundError:
            continue  # released meanwhile: try again at once
        if is_dead(holder):
            _remove_stale(claim, holder)
            continue
        if time.monotonic() > deadline:
            raise _timed_out(root, layer_id, holder, timeout)
        time.sleep(POLL_INTERVAL)
    return False


def _remove_stale(claim: Path, holder: str) -> None:
    """Remove the claim of a dead run; if a live run claimed it meanwhile, put that back."""
    stale = claim.with_name(f"{claim.name}.stale-{owner()}")
    try:
        os.rename(claim, stale)
    except FileNotFoundError:
        return
    found = os.readlink(stale)
    os.unlink(stale)
    if found != holder:
        # if that fails, that run notices it lost its claim before it writes a marker
        with contextlib.suppress(FileExistsError):
            os.symlink(found, claim)


def holds(root: Path, layer_id: str) -> bool:
    """Does this run still hold the claim of ``layer_id``?"""
    try:
        return os.readlink(root / f".claim-{layer_id}") == owner()
    except OSError:
        return False


def check_held(root: Path, layer_id: str) -> None:
    """Raise :class:`RunnerError` unless this run still holds the claim of ``layer_id``."""
    if not holds(root, layer_id):
        raise RunnerError(
            f"another run took over the unpacking of {root / layer_id}",
            hint=_SHARED_HINT,
        )


def release(root: Path, layer_id: str) -> None:
    """Remove the claim of ``layer_id`` if this run holds it."""
    if holds(root, layer_id):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(root / f".claim-{layer_id}")


_SHARED_HINT = (
    "if the cache is on a shared filesystem whose locks do not work across nodes, use a "
    "node-local cache directory: --cache-dir or PKG_CACHE_DIR, e.g. the default /tmp/pkgtool-<uid>"
)


def _timed_out(root: Path, layer_id: str, holder: str, timeout: float) -> RunnerError:
    claim = root / f".claim-{layer_id}"
    return RunnerError(
        f"timed out after {timeout:g} s waiting for {_describe(holder)} to unpack "
        f"{root / layer_id} (claim {claim})",
        hint=f"if that run died, remove {claim}; {_SHARED_HINT}; or raise PKG_LOCK_TIMEOUT "
        "(seconds)",
    )


def dead_work(root: Path, name: str, own_key: str | None) -> bool:
    """May the work directory ``name`` of ``root`` be removed? Its owner must be a dead
    process of this host (a name without an owner is an older runner's), and its key lock
    free (or absent) unless it is ``own_key`` (whose key lock the caller holds)."""
    key, _sep, holder = name[len(".work-") :].partition("_")
    if holder and not is_dead(holder):
        return False
    if key == own_key:
        return True
    from pkgtool.runner._lock import open_lock, try_exclusive

    lock_path = root / f".key-{key}.lock"
    if not os.path.exists(lock_path):
        return True  # every run opens its key lock before it makes a work directory
    fd = open_lock(lock_path)
    try:
        return try_exclusive(fd)
    finally:
        os.close(fd)
