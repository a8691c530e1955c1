"""archive -> ready prefix -> exec, on worker nodes, with the standard library only.

This package and ``pkg-run.sh`` (its POSIX sh twin, package data, see :func:`runner_script`)
follow one protocol, so both share one cache and exclude each other (DESIGN.md, "Runner
protocol"):

1. **Environment id.** The first 16 hex digits of
   ``sha256(f"{size}\\n" + first min(size, 65536) bytes + last min(size, 65536) bytes)``,
   ``size`` being the archive's size in bytes. This reads at most 128 KiB however big the
   archive; the gzip trailer holds the CRC32 and size of the whole payload, so head, tail and
   size identify the content in practice. sh: ``{ printf '%s\\n' "$size"; head -c 65536 A;
   tail -c 65536 A; } | sha256sum``.
2. **Cache root.** ``--cache-dir``, else ``$PKG_CACHE_DIR``, else ``/tmp/pkgtool-$UID`` when
   ``/tmp`` is a writable directory, else ``$TMPDIR/pkgtool-$UID`` (empty values count as
   unset). ``$TMPDIR`` comes last on purpose: batch systems (Work Queue, TaskVine, some Slurm
   and HTCondor setups) give every task its own ``TMPDIR`` inside the task sandbox, so a
   ``TMPDIR``-based root would unpack the environment again for every task. The root is made
   absolute, created mode 0700, and refused when it is a symlink, not a directory, owned by
   another uid, or writable by group or others.
3. **Ready prefix.** ``<root>/<id>/`` holding the marker ``<root>/<id>/.pkgtool-ready`` (it
   contains the id and a newline), written last. Warm path: the marker exists, go to 4, no
   lock. Cold path: take ``flock(2)`` on ``<root>/<id>.lock`` (``flock -w`` in sh), polling for
   at most ``lock_timeout`` seconds; check the marker again; remove any leftover
   ``<root>/<id>/``; extract, refusing unsafe members (see ``_extract``); check the node against
   ``<prefix>/.pkgtool/manifest.json`` (see ``_node``); if ``bin/conda-unpack`` exists, run
   ``<prefix>/bin/python <prefix>/bin/conda-unpack`` with stdin from ``/dev/null``, stdout to
   stderr and the activated variables; write the marker, fsync it and the prefix directory. On
   any failure the prefix is removed; after a crash, the next cold run removes it. Lock files
   are never removed. ``pkg-run.sh`` on a node without ``flock(1)`` falls back to a lock
   directory ``<root>/<id>.lock.d``, which only excludes other such runs.
4. **Activate.** See ``_activate``: ``<prefix>/bin`` first on PATH, ``CONDA_PREFIX``,
   ``CONDA_DEFAULT_ENV``, no ``PYTHONPATH``/``PYTHONHOME``, ``etc/conda/activate.d/*.sh``.
5. **exec** the command: its status, stdio and signals are the caller's.

On worker nodes with Python but without pkgtool's dependencies, ``python -m pkgtool.runner``
takes the same command line as ``pkg-run.sh``.

Errors: :class:`~pkgtool.errors.RunnerError` (exit 125) for anything the runner itself fails
at, :class:`~pkgtool.errors.CommandNotExecutableError` (126) and
:class:`~pkgtool.errors.CommandNotFoundError` (127) when the final ``exec`` fails.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from pkgtool.errors import RunnerError
from pkgtool.runner._activate import activated_environ, exec_command

MARKER = ".pkgtool-ready"
"""Name of the completion marker inside a prefix; no archive member may use it."""

# The warm path (marker present) imports nothing more: tarfile, subprocess, shutil, fcntl
# and json are imported on the cold path only, which keeps `pkg run` start-up short.

__all__ = [
    "MARKER",
    "RunOptions",
    "activated_environ",
    "cache_root",
    "check_link",
    "environment_id",
    "prepare",
    "run",
    "runner_script",
]

ID_SAMPLE = 65536
"""Bytes hashed from each end of the archive for the environment id."""

DEFAULT_LOCK_TIMEOUT = 600.0
"""Seconds to wait for another run's cold path, unless ``$PKG_LOCK_TIMEOUT`` says otherwise."""


_SECONDS = re.compile(r"[0-9]*\.?[0-9]*")


def _default_lock_timeout() -> float:
    text = os.environ.get("PKG_LOCK_TIMEOUT", "")
    if not text:
        return DEFAULT_LOCK_TIMEOUT
    # the grammar pkg-run.sh accepts too: digits with at most one decimal point
    if text == "." or not _SECONDS.fullmatch(text):
        raise RunnerError(
            f"PKG_LOCK_TIMEOUT={text!r} is not a number of seconds",
            hint="set it to a number such as 600, or unset it",
        )
    return float(text)


class RunOptions:
    """How to run: ``cache_dir`` (``None``: ``$PKG_CACHE_DIR`` or the per-user default) and
    ``lock_timeout`` in seconds (default ``$PKG_LOCK_TIMEOUT``, else 600; an invalid
    ``$PKG_LOCK_TIMEOUT`` raises :class:`RunnerError` when the options are made).

    A plain immutable class rather than a dataclass: importing ``dataclasses`` costs a
    third of the runner's warm-path import time."""

    __slots__ = ("cache_dir", "lock_timeout")
    cache_dir: Path | None
    lock_timeout: float

    def __init__(self, cache_dir: Path | None = None, lock_timeout: float | None = None) -> None:
        object.__setattr__(self, "cache_dir", cache_dir)
        timeout = _default_lock_timeout() if lock_timeout is None else lock_timeout
        object.__setattr__(self, "lock_timeout", timeout)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"RunOptions is immutable: cannot set {name}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RunOptions):
            return NotImplemented
        return (self.cache_dir, self.lock_timeout) == (other.cache_dir, other.lock_timeout)

    def __hash__(self) -> int:
        return hash((self.cache_dir, self.lock_timeout))

    def __repr__(self) -> str:
        return f"RunOptions(cache_dir={self.cache_dir!r}, lock_timeout={self.lock_timeout!r})"


def environment_id(archive: Path) -> str:
    """The 16-hex-digit id of ``archive`` (rule in the module docstring); reads <= 128 KiB.

    Raises :class:`RunnerError` naming the path when it is missing, unreadable or not a
    regular file.
    """
    try:
        with open(archive, "rb") as stream:
            info = os.fstat(stream.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise RunnerError(f"archive {archive} is not a regular file", hint=_ARCHIVE_HINT)
            digest = hashlib.sha256(f"{info.st_size}\n".encode())
            digest.update(stream.read(ID_SAMPLE))
            stream.seek(max(0, info.st_size - ID_SAMPLE))
            digest.update(stream.read(ID_SAMPLE))
    except OSError as exc:
        raise RunnerError(
            f"cannot read archive {archive}: {exc.strerror}", hint=_ARCHIVE_HINT
        ) from exc
    return digest.hexdigest()[:16]


_ARCHIVE_HINT = "give the path of an env.tar.gz made by pkg create"


def _root_path(options: RunOptions) -> Path:
    if options.cache_dir is not None:
        chosen = str(options.cache_dir)
    elif os.environ.get("PKG_CACHE_DIR"):
        chosen = os.environ["PKG_CACHE_DIR"]
    elif os.path.isdir("/tmp") and os.access("/tmp", os.W_OK | os.X_OK):
        chosen = f"/tmp/pkgtool-{os.getuid()}"
    elif os.environ.get("TMPDIR"):
        chosen = f"{os.environ['TMPDIR']}/pkgtool-{os.getuid()}"
    else:
        raise RunnerError(
            "no cache directory: /tmp is not writable and TMPDIR is not set",
            hint="choose a node-local directory with --cache-dir or PKG_CACHE_DIR",
        )
    return Path(os.path.abspath(chosen))


def cache_root(options: RunOptions) -> Path:
    """The absolute cache root, created (mode 0700, parents as needed) if missing.

    Raises :class:`RunnerError` when it cannot be created, or is a symlink, not a directory,
    owned by another uid, or writable by group or others.
    """
    root = _root_path(options)
    hint = "choose another directory with --cache-dir or PKG_CACHE_DIR"
    try:
        if not os.path.lexists(root):
            os.makedirs(root.parent, exist_ok=True)
            _make_private_dir(root)
        info = os.lstat(root)
    except OSError as exc:
        raise RunnerError(f"cannot create cache directory {root}: {exc.strerror}", hint) from exc
    if stat.S_ISLNK(info.st_mode):
        raise RunnerError(f"cache directory {root} is a symlink", hint)
    if not stat.S_ISDIR(info.st_mode):
        raise RunnerError(f"cache directory {root} is not a directory", hint)
    if info.st_uid != os.getuid():
        owner = f"uid {info.st_uid}, not by you (uid {os.getuid()})"
        raise RunnerError(f"cache directory {root} is owned by {owner}", hint)
    if info.st_mode & 0o022:
        mode = f"mode {stat.S_IMODE(info.st_mode):04o}"
        raise RunnerError(f"cache directory {root} is writable by others ({mode})", hint)
    return root


def _make_private_dir(path: Path) -> None:
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return  # a concurrent run made it; it is checked like any existing root
    os.chmod(path, 0o700)  # exactly 0700 whatever the umask


def prepare(archive: Path, options: RunOptions) -> Path:
    """Return the ready prefix ``<root>/<id>`` of ``archive``, unpacking it if needed.

    The warm path (marker present) reads at most 128 KiB of the archive and takes no lock.
    Raises :class:`RunnerError` (see the module docstring for every case).
    """
    env_id = environment_id(archive)
    root = cache_root(options)
    prefix = root / env_id
    if (prefix / MARKER).exists():
        return prefix
    from pkgtool.runner._lock import exclusive_lock

    with exclusive_lock(root / f"{env_id}.lock", options.lock_timeout):
        if not (prefix / MARKER).exists():
            _unpack(archive, prefix, env_id)
    return prefix


def _unpack(archive: Path, prefix: Path, env_id: str) -> None:
    from pkgtool.runner._extract import extract
    from pkgtool.runner._node import check_node

    _remove_tree(prefix)
    try:
        extract(archive, prefix)
        check_node(prefix, archive)
        _conda_unpack(prefix)
        _write_marker(prefix, env_id)
    except BaseException:
        _remove_tree(prefix)
        raise


def _conda_unpack(prefix: Path) -> None:
    import subprocess

    script = prefix / "bin" / "conda-unpack"
    if not script.is_file():
        return
    python = prefix / "bin" / "python"
    argv = [str(python), str(script)]
    env = activated_environ(prefix, os.environ)
    try:
        result = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=2, check=False)
    except OSError as exc:
        raise RunnerError(
            f"cannot run conda-unpack in {prefix}: {python}: {exc.strerror}",
            hint="the archive has bin/conda-unpack but no working bin/python; rebuild it",
        ) from exc
    if result.returncode != 0:
        raise RunnerError(
            f"conda-unpack failed in {prefix} (exit status {result.returncode})",
            hint="see its messages above; the next run unpacks the environment again",
        )


def _write_marker(prefix: Path, env_id: str) -> None:
    try:
        fd = os.open(prefix / MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, f"{env_id}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(prefix)
        _fsync_dir(prefix.parent)
    except OSError as exc:
        raise RunnerError(
            f"cannot write {prefix / MARKER}: {exc.strerror}",
            hint="check that the cache directory has free space",
        ) from exc


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_tree(path: Path) -> None:
    """Remove ``path`` (a file, a link or a tree with read-only directories) if it exists."""
    import shutil

    try:
        if not os.path.isdir(path) or os.path.islink(path):
            os.unlink(path)
            return
        try:
            shutil.rmtree(path)
        except OSError:
            _make_writable(path)
            shutil.rmtree(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise RunnerError(
            f"cannot remove the incomplete environment {path}: {exc.strerror}",
            hint=f"remove {path} by hand",
        ) from exc


def _make_writable(top: Path) -> None:
    os.chmod(top, 0o700)
    for directory, subdirs, _files in os.walk(top):
        for name in subdirs:
            child = os.path.join(directory, name)
            if not os.path.islink(child):
                os.chmod(child, 0o700)


def run(archive: Path, command: Sequence[str], options: RunOptions) -> NoReturn:
    """Prepare ``archive``, activate it and ``exec`` ``command`` (a non-empty argv).

    Does not return: on success this process becomes the command. Raises
    :class:`RunnerError` (125), :class:`~pkgtool.errors.CommandNotExecutableError` (126) or
    :class:`~pkgtool.errors.CommandNotFoundError` (127).
    """
    if not command:
        raise RunnerError("no command given", hint="pkg run ARCHIVE COMMAND [ARG...]")
    exec_command(prepare(archive, options), command)


def check_link(path: str, target: str) -> None:
    """Raise :class:`ValueError` unless both runners accept a symbolic link member ``path``
    (relative to the prefix, ``/``-separated) pointing to ``target``; the builder checks
    every link before packing so that no archive is refused on a node for its links."""
    from pkgtool.runner._extract import check_symlink_target

    check_symlink_target(path, target)


def runner_script() -> Path:
    """Path of the packaged standalone POSIX runner ``pkg-run.sh``.

    Run it as ``sh <path> [--cache-dir DIR] ARCHIVE COMMAND [ARG...]``: an installer may not
    keep its executable bit.
    """
    return Path(__file__).with_name("pkg-run.sh")
