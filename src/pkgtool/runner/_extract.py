"""Safe extraction of an environment archive: GNU tar into a private work directory, then checks.

Both runners extract the same way: GNU tar, never given ``-P``, reads the decompressed stream
into a fresh directory that only this user can enter, with ``-o`` (files owned by the
running user). GNU tar itself strips a leading ``/``, refuses members with ``..``, and
creates symbolic links whose target is absolute or has ``..`` only at the end of the
extraction ("delayed links"), so nothing is written outside the work directory while it runs.
Then, before anything is used, the runner checks what was extracted, from data the archive
cannot forge (tar's listing of member names, and ``lstat``/``readlink`` of the tree; no owner
or group text is parsed). A member is refused when:

- its name is absolute, or has a ``..`` component (from the names tar listed);
- its first component (ignoring ``.`` and empty ones) is the ready marker ``.pkgtool-ready``;
- it is not a regular file, directory or symbolic link (devices, fifos, sockets);
- it is a symbolic link whose target is absolute, has a ``..`` after a normal component
  (``a/../b``: lexical checks cannot follow links in the middle), or climbs with leading
  ``..`` above the prefix; or a symbolic link with more than one name (a hard link to a link
  would carry a relative target to another depth).

Hard links are made by tar inside the work directory (their targets lose any leading ``/``
or ``../``). Modes are then normalised: readable and writable by the owner (conda-unpack
rewrites files in place), searchable directories, never writable by group or others, no
setuid, setgid or sticky bit. With these rules every link resolves inside the prefix.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pkgtool.errors import RunnerError
from pkgtool.runner import CODE_DIR, MARKER

_HINT = "the archive was not made by pkg create or was altered; rebuild it with pkg create"


def _parts(name: str) -> list[str]:
    return [part for part in name.split("/") if part not in ("", ".")]


class UnsafeMemberError(RunnerError):
    """An archive member that would escape or corrupt the prefix (exit 125)."""

    def __init__(self, archive: Path, name: str, reason: str) -> None:
        super().__init__(f"unsafe member '{name}' in {archive}: {reason}", hint=_HINT)


def member_path(name: str) -> str:
    """Normalised relative path of a member name; ``""`` names the prefix itself.

    Raises :class:`ValueError` with the reason when the name is absolute, has ``..`` or
    starts with the marker.
    """
    if name.startswith("/"):
        raise ValueError("absolute path")
    parts = _parts(name)
    if ".." in parts:
        raise ValueError("'..' component")
    if parts and parts[0] == MARKER:
        raise ValueError(f"reserved name {MARKER}")
    return "/".join(parts)


def check_symlink_target(path: str, target: str) -> None:
    """Raise :class:`ValueError` unless the link at ``path`` -> ``target`` stays inside."""
    if target.startswith("/"):
        raise ValueError(f"link target '{target}' is absolute")
    parts = _parts(target)
    ups = 0
    while ups < len(parts) and parts[ups] == "..":
        ups += 1
    if ".." in parts[ups:]:
        raise ValueError(f"link target '{target}' has '..' after a name")
    if ups > len(_parts(path)) - 1:
        raise ValueError(f"link target '{target}' escapes the prefix")


def _refuse(archive: Path, name: str, reason: str) -> UnsafeMemberError:
    return UnsafeMemberError(archive, name, reason)


def check_names(archive: Path, listing: bytes) -> None:
    """Raise :class:`UnsafeMemberError` for the first unsafe name in tar's listing (one name
    per line, GNU tar's escapes: a name cannot span lines)."""
    for raw in listing.splitlines():
        name = raw.decode("utf-8", "replace")
        try:
            member_path(name)
        except ValueError as exc:
            raise _refuse(archive, name, str(exc)) from None


def check_tree(archive: Path, work: Path) -> None:
    """Check and normalise the tree tar extracted into ``work`` (rules in the module doc).

    Raises :class:`UnsafeMemberError` naming the first unsafe entry (a path relative to
    ``work``).
    """
    if os.path.lexists(os.path.join(work, MARKER)):
        raise _refuse(archive, MARKER, f"reserved name {MARKER}")
    _check_dir(archive, str(work), "")


def _check_dir(archive: Path, directory: str, relative: str) -> None:
    with os.scandir(directory) as entries:
        for entry in entries:
            name = f"{relative}{entry.name}"
            info = entry.stat(follow_symlinks=False)
            mode = info.st_mode
            if stat.S_ISLNK(mode):
                try:
                    check_symlink_target(name, os.readlink(entry.path))
                except ValueError as exc:
                    raise _refuse(archive, name, str(exc)) from None
                if info.st_nlink > 1:
                    raise _refuse(archive, name, "hard link to a symbolic link")
            elif stat.S_ISDIR(mode):
                _normalise_mode(entry.path, mode, directory=True)
                _check_dir(archive, entry.path, f"{name}/")
            elif stat.S_ISREG(mode):
                _normalise_mode(entry.path, mode, directory=False)
            else:
                raise _refuse(archive, name, "device, fifo or other special file")


def _normalise_mode(path: str, mode: int, *, directory: bool) -> None:
    old = stat.S_IMODE(mode)
    new = (old & 0o755) | 0o600
    if directory or old & 0o111:
        new |= 0o100
    if new != old:
        os.chmod(path, new)


def check_code_names(archive: Path, listing: bytes) -> None:
    """As :func:`check_names`, and every name must be ``pkgtool-code`` or under it."""
    check_names(archive, listing)
    for raw in listing.splitlines():
        name = raw.decode("utf-8", "replace")
        if _parts(name)[:1] != [CODE_DIR]:
            raise _refuse(archive, name, f"a code layer holds only {CODE_DIR}/")


def check_code_tree(archive: Path, work: Path) -> None:
    """Check and normalise a code layer extracted into ``work``: only ``pkgtool-code/``, and
    under it only directories and regular files with one name (no symbolic, hard or special
    links). Raises :class:`UnsafeMemberError` naming the first offending entry."""
    for entry in os.listdir(work):
        if entry != CODE_DIR:
            raise _refuse(archive, entry, f"a code layer holds only {CODE_DIR}/")
    top = os.path.join(work, CODE_DIR)
    if os.path.lexists(top):
        if not stat.S_ISDIR(os.lstat(top).st_mode):
            raise _refuse(archive, CODE_DIR, "not a directory")
        _check_code_dir(archive, top, f"{CODE_DIR}/")


def _check_code_dir(archive: Path, directory: str, relative: str) -> None:
    _normalise_mode(directory, os.lstat(directory).st_mode, directory=True)
    with os.scandir(directory) as entries:
        for entry in entries:
            name = f"{relative}{entry.name}"
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                _check_code_dir(archive, entry.path, f"{name}/")
            elif stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
                _normalise_mode(entry.path, info.st_mode, directory=False)
            elif stat.S_ISREG(info.st_mode):
                raise _refuse(archive, name, "a hard link in a code layer")
            else:
                raise _refuse(archive, name, "a code layer holds only directories and files")
