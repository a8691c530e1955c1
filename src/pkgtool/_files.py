"""The files pkgtool is given: inputs it reads and outputs it writes (docs/design.md,
"Inputs and outputs").

Inputs (a script, a spec, a requirements file, a lock) must be regular files no larger
than a documented bound: a FIFO would block forever, ``/dev/zero`` would be read until the
machine runs out of memory, and a huge script costs about 300 times its size to parse.
Each is opened without blocking (``O_NONBLOCK``: a FIFO opens at once), checked with
``fstat`` on that descriptor, and read no further than its bound.

An output (OUT) must be a regular file or absent: writing replaces OUT with a new file
(temporary name, then rename), so a device, FIFO or directory there would be replaced by a
file (``/dev/full`` as root) or fail after the work. A symlink to a regular file is
followed (the link stays, its target is replaced, as ``cp`` and ``>`` do), but only when
the link belongs to the caller or to root: a link another user planted in a shared
directory would otherwise point our write at a file of ours (the rule of Linux
``fs.protected_symlinks``, applied everywhere). OUT's directory must exist and take a new
file: that is tried, with a file created and removed at once, before any work.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from pkgtool.errors import BuildError, InputError, UsageError

MiB = 1024 * 1024

MAX_SOURCE = 4 * MiB
"""Bound on a Python source file the analyzer parses (a script, a local module, a
notebook's joined code cells), in bytes: parsing costs up to ~300 bytes of memory per byte
of dense code (a 4 MiB one: 1.26 GB peak RSS, 18 s), so this is the ceiling."""

MAX_NOTEBOOK = 64 * MiB
"""Bound on a Jupyter notebook file, in bytes (outputs such as images make notebooks much
larger than their code; the joined code is bounded by :data:`MAX_SOURCE`)."""

MAX_SPEC = 4 * MiB
"""Bound on a spec, environment.yml, requirements or constraints file, or a lock, in bytes."""

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
)


def kind_of(mode: int) -> str:
    """``"a FIFO"``, ``"a directory"``, ... for a ``st_mode`` that is not a regular file."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _size_text(limit: int) -> str:
    return f"{limit // MiB} MiB" if limit % MiB == 0 else f"{limit} bytes"


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of ``path``, a regular file (symlinks followed) of at most ``limit`` bytes.

    Never blocks on a FIFO and never reads more than ``limit + 1`` bytes.

    Raises:
        OSError: the file cannot be opened or read; ``EINVAL`` when it is not a regular
            file, ``EFBIG`` when it is larger than ``limit`` (``strerror`` says which).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, f"{kind_of(info.st_mode)}, not a regular file", str(path))
        if info.st_size > limit:
            raise OSError(errno.EFBIG, _too_large(info.st_size, limit), str(path))
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(limit + 1 - total, MiB))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:  # it grew while read
            raise OSError(errno.EFBIG, _too_large(total, limit), str(path))
        return b"".join(chunks)
    finally:
        os.close(fd)


def _too_large(size: int, limit: int) -> str:
    return f"larger than {_size_text(limit)} ({size:,} bytes or more)"


def read_input(path: Path, what: str, limit: int, hint: str) -> bytes:
    """:func:`read_regular` for a file named on the command line; ``what`` names it in the
    message (``"spec"``, ``"script"``).

    Raises:
        InputError: ``path`` is missing, unreadable, not a regular file or too large
            (exit 3), before more than ``limit + 1`` bytes are read.
    """
    try:
        return read_regular(path, limit)
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}", hint=hint) from exc


def check_input(path: Path, what: str, limit: int, hint: str) -> None:
    """Raise :class:`InputError` unless ``path`` can be read as :func:`read_input` would,
    reading no more than one byte of it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise InputError(_cannot(what, path, exc.strerror or str(exc)), hint=hint) from exc
    try:
        info = os.fstat(fd)
        problem = None
        if not stat.S_ISREG(info.st_mode):
            problem = f"{kind_of(info.st_mode)}, not a regular file"
        elif info.st_size > limit:
            problem = _too_large(info.st_size, limit)
        else:
            try:
                os.read(fd, 1)
            except OSError as exc:
                problem = exc.strerror or str(exc)
        if problem is not None:
            raise InputError(_cannot(what, path, problem), hint=hint)
    finally:
        os.close(fd)


def _cannot(what: str, path: Path, problem: str) -> str:
    return f"cannot read {what} {path}: {problem}" if what else f"cannot read {path}: {problem}"


def check_output(path: Path, what: str = "OUT") -> Path:
    """The path to write for output ``path``: itself, or the regular file its symlinks
    (each owned by the caller or root) lead to. Checked before any work (module docstring).

    Raises:
        UsageError: ``path`` is a device, FIFO, socket or directory, or a symlink to one,
            a dangling symlink, a symlink owned by another user or into ``/proc``, or its
            directory is missing or takes no new file (exit 2).
    """
    target, info = _follow(path, what)
    if info is not None and not stat.S_ISREG(info.st_mode):
        through = f" (through the symlink {path})" if target != path else ""
        raise UsageError(f"{what} {target}{through} is {kind_of(info.st_mode)}", hint=_OUT_HINT)
    check_directory(target.parent, what, target)
    return target


_OUT_HINT = "give the name of a regular file (or of none yet), in a writable directory"


def _follow(path: Path, what: str) -> tuple[Path, os.stat_result | None]:
    """``(path or the end of its symlinks, its lstat or None when absent)``."""
    current = path
    for _ in range(40):  # the kernel's limit on symlinks in one lookup (ELOOP)
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            if current != path:
                raise UsageError(
                    f"{what} {path} is a symlink to {current}, which does not exist",
                    hint="remove the link, or create its target first",
                ) from None
            return current, None
        except OSError as exc:
            raise UsageError(f"{what} {path}: {exc.strerror}", hint=_OUT_HINT) from exc
        if not stat.S_ISLNK(info.st_mode):
            return current, info
        if info.st_uid not in (os.geteuid(), 0):
            raise UsageError(
                f"{what} {path}: the symlink {current} belongs to another user (uid {info.st_uid})",
                hint="remove the link or write elsewhere: pkgtool follows only your own links",
            )
        if os.path.abspath(current).startswith("/proc/"):
            raise UsageError(
                f"{what} {path} leads through {current}, a /proc link",
                hint="write to a file, or give - for stdout where the command allows it",
            )
        current = Path(os.path.join(os.path.dirname(current), os.readlink(current)))
    raise UsageError(f"{what} {path}: too many levels of symlinks", hint=_OUT_HINT)


def check_directory(directory: Path, what: str, out: Path) -> None:
    """Raise :class:`UsageError` unless ``directory`` exists and takes a new file (tried:
    a file is created there and removed at once; this also catches read-only mounts,
    ACLs and root's view of permissions, which ``os.access`` misjudges)."""
    where = directory if str(directory) else Path(".")
    if not where.is_dir():
        raise UsageError(
            f"the directory of {what} {out} does not exist: {where}",
            hint="create it first, or pick OUT elsewhere",
        )
    try:
        fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".probe", dir=where)
    except OSError as exc:
        raise UsageError(
            f"cannot write {what} {out}: its directory {where} takes no new file: "
            f"{exc.strerror or exc}",
            hint="pick a writable directory for OUT",
        ) from exc
    os.close(fd)
    os.unlink(name)


def write_failed(path: Path, exc: OSError) -> BuildError:
    """The error for OUT ``path`` that could not be written (disk full, I/O error, quota),
    after the partial file was removed (exit 5)."""
    reason = exc.strerror or str(exc)
    hint = "free space there or pick OUT on another filesystem; nothing was left under OUT"
    if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        hint = "check the filesystem of OUT; nothing was left under OUT"
    return BuildError(f"cannot write {path}: {reason}", hint=hint)
