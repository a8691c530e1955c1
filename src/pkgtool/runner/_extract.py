"""Safe, streaming extraction of an environment archive into a fresh prefix.

Members are checked one by one as the archive streams past (one decompression pass), and the
first unsafe member aborts the extraction with :class:`RunnerError`; the caller then removes the
half-written prefix. The POSIX runner applies the same rules to ``tar -t`` listings before it
extracts anything, so both runners accept and refuse the same archives.

A member is refused when:

- its name is absolute, or has a ``..`` component;
- its first component (ignoring ``.`` and empty ones) is the ready marker ``.pkgtool-ready``;
- it is not a regular file, directory, symbolic link or hard link (devices, fifos, ...);
- a proper prefix of its name is a symbolic link member (nothing is written through links);
- it is a symbolic link whose target is absolute, has a ``..`` after a normal component
  (``a/../b``: lexical checks cannot follow links in the middle), or climbs with leading
  ``..`` above the prefix;
- it is a hard link whose target is unsafe as a name, is a symbolic link member, or was not
  extracted before it;
- (this runner only, defence in depth) its parent directory resolves outside the prefix on the
  real filesystem, it is a symbolic link that would replace a directory, or it would replace
  a symbolic link member.

With these rules every link resolves inside the prefix: a link starts in a real directory of
the prefix, climbs at most to the prefix, then only descends.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path
from typing import Any

from pkgtool.errors import RunnerError
from pkgtool.runner import MARKER

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


class _Extraction:
    """State of one extraction: the links and files seen so far, checked directories."""

    def __init__(self, archive: Path, prefix: Path) -> None:
        self.archive = archive
        self.prefix = prefix
        self.real_prefix = os.path.realpath(prefix)
        self.symlinks: set[str] = set()
        self.files: set[str] = set()
        self.safe_dirs: set[str] = set()

    def refuse(self, name: str, reason: str) -> UnsafeMemberError:
        return UnsafeMemberError(self.archive, name, reason)

    def check(self, member: tarfile.TarInfo) -> str:
        """Return the member's normalised path, or raise :class:`UnsafeMemberError`."""
        try:
            path = member_path(member.name)
            if member.issym():
                check_symlink_target(path, member.linkname)
            if member.islnk():
                self._check_hardlink(member.linkname)
        except ValueError as exc:
            raise self.refuse(member.name, str(exc)) from None
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
            raise self.refuse(member.name, "device, fifo or other special file")
        self._check_not_under_symlink(member.name, path)
        self._check_parent_inside(member.name, path)
        return path

    def _check_hardlink(self, linkname: str) -> None:
        try:
            target = member_path(linkname)
        except ValueError as exc:
            raise ValueError(f"hard link target '{linkname}': {exc}") from None
        if target in self.symlinks:
            raise ValueError(f"hard link to symbolic link '{target}'")
        self._check_not_under_symlink(target, target)
        if target not in self.files:
            raise ValueError(f"hard link to '{target}', which is not a file extracted before it")

    def _check_not_under_symlink(self, name: str, path: str) -> None:
        parts = path.split("/")
        for end in range(1, len(parts)):
            ancestor = "/".join(parts[:end])
            if ancestor in self.symlinks:
                raise self.refuse(name, f"lies under symbolic link '{ancestor}'")

    def _check_parent_inside(self, name: str, path: str) -> None:
        parent = os.path.dirname(os.path.join(self.prefix, path))
        if parent in self.safe_dirs:
            return
        real = os.path.realpath(parent)
        if real != self.real_prefix and not real.startswith(self.real_prefix + os.sep):
            raise self.refuse(name, "would be written outside the prefix")
        self.safe_dirs.add(parent)

    def write(self, archive: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> None:
        """Write one checked member below the prefix."""
        target = os.path.join(self.prefix, path)
        if member.isdir():
            os.makedirs(target, exist_ok=True)  # attributes of directories are not restored
            return
        if member.issym():
            if os.path.isdir(target) and not os.path.islink(target):
                raise self.refuse(member.name, "symbolic link would replace a directory")
            self.symlinks.add(path)
            self.files.discard(path)
        elif path in self.symlinks:  # opening it would write through the link
            raise self.refuse(member.name, "would replace a symbolic link")
        else:
            self.files.add(path)
        member.name = path
        if member.islnk():
            member.linkname = member_path(member.linkname)
        _sanitize(member)
        archive.extract(member, str(self.prefix), set_attrs=True, **_FILTER)


def _sanitize(member: tarfile.TarInfo) -> None:
    """Owner of the running user; files readable and writable by their owner (conda-unpack
    rewrites them in place), never writable by group or others, no setuid/setgid/sticky."""
    member.uid, member.gid = os.getuid(), os.getgid()
    member.uname = member.gname = ""
    if member.isreg() or member.islnk():  # a hard link's mode applies to its target
        member.mode = (member.mode & 0o755) | 0o600


# Python >= 3.12 and the 3.8.17 / 3.9.17 / 3.10.12 / 3.11.4 backports (PEP 706) take a filter;
# "data" repeats our checks and, given explicitly, avoids the DeprecationWarning of 3.12-3.13.
_FILTER: dict[str, Any] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def extract(archive: Path, prefix: Path) -> None:
    """Extract ``archive`` (any compression :mod:`tarfile` reads) into the new dir ``prefix``.

    ``prefix`` must not exist; its parent must. Raises :class:`UnsafeMemberError` naming the
    first unsafe member, or :class:`RunnerError` when the archive cannot be read or written
    (corrupt, truncated, disk full). On error the caller removes ``prefix``.
    """
    try:
        os.mkdir(prefix, 0o755)
        state = _Extraction(archive, prefix)
        with tarfile.open(str(archive), mode="r|*") as stream:
            for member in stream:
                path = state.check(member)
                if path:
                    state.write(stream, member, path)
                elif not member.isdir():
                    raise state.refuse(member.name, "names the prefix itself")
    except RunnerError:
        raise
    except Exception as exc:  # any failure to read or write the archive is the runner's failure
        raise RunnerError(
            f"cannot extract {archive} into {prefix}: {exc}",
            hint="check that the archive is complete (same size as where it was built) "
            "and that the cache directory has free space",
        ) from exc
