"""archive -> ready prefix -> exec, on worker nodes, with the standard library only.

This package and ``pkg-run.sh`` (its POSIX sh twin, package data, see :func:`runner_script`)
follow one protocol, so both share one cache and exclude each other (docs/runner.md is the
full statement):

1. **Environment id.** The first 32 hex digits of the SHA-256 of the archive's bytes (of the
   payload, for a self-extracting ``env.sh``), computed on the cold path while the same bytes
   are decompressed: the id is the content, so a damaged copy never shares a prefix with the
   good archive. The warm path does not read the archive: it looks up the record
   ``<root>/.key-<key>`` (``<id>`` and a newline), ``key`` being
   ``<st_dev>-<st_ino>-<st_size>-<mtime s.ns>-<ctime s.ns>`` of the archive file (symlinks
   followed; ``stat -L -c '%d-%i-%s-%.9Y-%.9Z'`` in sh). Replacing the file in place changes
   its ctime, so a replaced archive is hashed again.
2. **Cache root.** ``--cache-dir``, else ``$PKG_CACHE_DIR``, else ``/tmp/pkgtool-$UID`` when
   ``/tmp`` is a writable directory, else ``$TMPDIR/pkgtool-$UID`` (empty values count as
   unset). ``$TMPDIR`` comes last on purpose: batch systems (Work Queue, TaskVine, some Slurm
   and HTCondor setups) give every task its own ``TMPDIR`` inside the task sandbox, so a
   ``TMPDIR``-based root would unpack the environment again for every task. The root is made
   absolute, created mode 0700, and refused when it is a symlink, not a directory, owned by
   another uid, or writable by group or others.
3. **Ready prefix.** ``<root>/<id>/`` holding the marker ``.pkgtool-ready`` (the id and the
   archive's absolute path, one per line), written last. Warm path: the record names an id;
   take a shared lock on ``<root>/<id>.lock``; the marker exists: go to 4. Cold path, under
   an exclusive lock on ``<root>/.key-<key>.lock``: look again; remove work directories of
   dead runs; stream the archive once through SHA-256 and the decompressor into GNU tar
   extracting into ``<root>/.work-<key>/`` (see ``_stream``); refuse a damaged stream; check
   the names and the tree (see ``_extract``); under an exclusive lock on ``<root>/<id>.lock``:
   if the marker exists, drop the work directory; else remove any leftover ``<root>/<id>/``,
   rename the work directory to it, check the node against ``.pkgtool/manifest.json`` (see
   ``_node``), run ``bin/python bin/conda-unpack`` there, write the marker and flush; write
   the record; turn the lock into a shared one. Children inherit the cold path's locks, so
   a child outliving a killed runner holds them until it exits. A signal (TERM, INT, HUP)
   during the cold path stops the children, removes what was unpacked and exits 128+signal.
4. **Activate.** See ``_activate``: ``<prefix>/bin`` first on PATH, ``CONDA_PREFIX``,
   ``CONDA_DEFAULT_ENV``, no ``PYTHONPATH``/``PYTHONHOME``, ``etc/conda/activate.d/*.sh``.
5. **exec** the command, which inherits the shared lock on ``<root>/<id>.lock``: its status,
   stdio and signals are the caller's.

**Layered archives** (first tar member ``.pkgtool/layers``; docs/runner.md, "Layered
archives"): the index names an env, an optional code and an end layer, each with the SHA-256
of its compressed bytes; each layer is unpacked into its own ``<root>/<layer id>/`` (see
``_layers`` and ``_layered``), the record holds ``<envid> <codeid>``, the warm path takes a
shared lock on every layer, and the command gets ``PKG_CODE_DIR=<root>/<codeid>/pkgtool-code``
(``PKG_CODE_DIR`` is removed when the archive has no code layer). A new archive that differs
only in code is verified whole but writes only its code layer.

On worker nodes with Python but without pkgtool's dependencies, ``python -m pkgtool.runner``
takes the same command line as ``pkg-run.sh``.

Errors: :class:`~pkgtool.errors.RunnerError` (exit 125) for anything the runner itself fails
at, :class:`~pkgtool.errors.CommandNotExecutableError` (126) and
:class:`~pkgtool.errors.CommandNotFoundError` (127) when the final ``exec`` fails, 128+N when
signal N stopped the cold path.
"""

from __future__ import annotations

import os
import stat

from pkgtool.errors import RunnerError
from pkgtool.runner._activate import activated_environ, exec_command

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (ms on the warm path)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from typing import BinaryIO, NoReturn

    from _typeshed import StrPath

MARKER = ".pkgtool-ready"
"""Name of the completion marker inside a prefix; no archive member may use it."""
CODE_DIR = "pkgtool-code"
"""The directory of a code layer, inside ``<root>/<codeid>/``: ``$PKG_CODE_DIR``."""

# The warm path (marker present) imports nothing more: tarfile, subprocess, shutil, fcntl
# and json are imported on the cold path only, which keeps `pkg run` start-up short.

__all__ = [
    "MARKER",
    "RunOptions",
    "activated_environ",
    "cache_root",
    "check_link",
    "environment_id",
    "layer_ids",
    "prepare",
    "run",
    "runner_script",
    "write_self_extracting",
]

DEFAULT_LOCK_TIMEOUT = 600.0
"""Seconds to wait for another run's cold path, unless ``$PKG_LOCK_TIMEOUT`` says otherwise."""


def _default_lock_timeout() -> float:
    text = os.environ.get("PKG_LOCK_TIMEOUT", "")
    if not text:
        return DEFAULT_LOCK_TIMEOUT
    # the grammar pkg-run.sh accepts too: digits with at most one decimal point
    if text == "." or text.count(".") > 1 or text.strip("0123456789.") or not text:
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
    cache_dir: StrPath | None
    lock_timeout: float

    def __init__(self, cache_dir: StrPath | None = None, lock_timeout: float | None = None) -> None:
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


class ArchiveFile:
    """An open archive: its stream positioned at the payload, the payload's offset in bytes
    (0, or where the archive starts in a self-extracting ``env.sh``) and its record key."""

    __slots__ = ("key", "offset", "path", "stream")

    def __init__(self, path: StrPath, stream: BinaryIO, offset: int, key: str) -> None:
        self.path = path
        self.stream = stream
        self.offset = offset
        self.key = key


def _timestamp(seconds: int, nanoseconds: int) -> str:
    return f"{seconds}.{nanoseconds:09d}"


def open_archive(archive: StrPath) -> ArchiveFile:
    """Open ``archive`` (follows symlinks) for reading; the caller closes ``.stream``.

    A file starting with ``#!`` is a self-extracting archive: its payload offset comes from
    the line ``_pr_payload=<offset>`` of its script. Raises :class:`RunnerError` when the path
    is missing, unreadable or not a regular file, or a ``#!`` file has no payload line.
    """
    try:
        stream = open(archive, "rb")  # noqa: SIM115 - returned to the caller
    except OSError as exc:
        raise RunnerError(
            f"cannot read archive {archive}: {exc.strerror}", hint=_ARCHIVE_HINT
        ) from exc
    try:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise RunnerError(f"archive {archive} is not a regular file", hint=_ARCHIVE_HINT)
        offset = 0
        if stream.read(2) == b"#!":
            import re

            found = re.search(rb"\n_pr_payload=([0-9]+) *\n", stream.read(1 << 16))
            if found is None:
                raise RunnerError(
                    f"archive {archive} is a script, not a pkgtool archive", hint=_ARCHIVE_HINT
                )
            offset = int(found.group(1))
        stream.seek(offset)
    except BaseException:
        stream.close()
        raise
    key = "-".join(
        (
            str(info.st_dev),
            str(info.st_ino),
            str(info.st_size),
            _timestamp(*divmod(info.st_mtime_ns, 1_000_000_000)),
            _timestamp(*divmod(info.st_ctime_ns, 1_000_000_000)),
        )
    )
    return ArchiveFile(archive, stream, offset, key)


def environment_id(archive: StrPath) -> str:
    """The 32-hex-digit id of the environment of ``archive``: for a legacy archive the SHA-256
    of its bytes (of the payload of a self-extracting archive; reads the whole archive), for a
    layered one the id of its env layer as its index says (only the index is read and checked;
    :func:`layer_ids` gives the code layer's too). Raises :class:`RunnerError` as
    :func:`open_archive`, and when the index of a layered archive is damaged."""
    return layer_ids(archive)[0]


def layer_ids(archive: StrPath) -> tuple[str, str | None]:
    """``(environment id, code layer id or None)`` of ``archive``; see :func:`environment_id`."""
    import hashlib
    from pathlib import Path

    from pkgtool.runner._layers import read_index

    source = open_archive(archive)
    with source.stream:
        size = os.fstat(source.stream.fileno()).st_size - source.offset
        index = read_index(Path(source.path), source.stream, source.offset, size)
        if index is not None:
            return index.env.id, index.code.id if index.code else None
        source.stream.seek(source.offset)
        digest = hashlib.sha256()
        while True:
            chunk = source.stream.read(1 << 20)
            if not chunk:
                break
            digest.update(chunk)
    return digest.hexdigest()[:32], None


_ARCHIVE_HINT = "give the path of an env.tar.gz made by pkg create"


def _root_path(options: RunOptions) -> str:
    if options.cache_dir is not None:
        chosen = os.fspath(options.cache_dir)
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
    return os.path.abspath(chosen)


def cache_root(options: RunOptions) -> Path:
    """The absolute cache root, created (mode 0700, parents as needed) if missing.

    Raises :class:`RunnerError` when it cannot be created, or is a symlink, not a directory,
    owned by another uid, or writable by group or others.
    """
    from pathlib import Path

    return Path(_checked_root(options))


def _checked_root(options: RunOptions) -> str:
    root = _root_path(options)
    hint = "choose another directory with --cache-dir or PKG_CACHE_DIR"
    try:
        if not os.path.lexists(root):
            os.makedirs(os.path.dirname(root), exist_ok=True)
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


def _make_private_dir(path: str) -> None:
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return  # a concurrent run made it; it is checked like any existing root
    os.chmod(path, 0o700)  # exactly 0700 whatever the umask


_HEX = frozenset("0123456789abcdef")


def _recorded_ids(root: StrPath, key: str) -> list[str] | None:
    """The ids in the record ``.key-<key>``: ``[envid]`` or ``[envid, codeid]``."""
    try:
        with open(os.path.join(root, f".key-{key}"), "rb") as stream:
            text = stream.read(80).decode("latin-1")
    except (OSError, ValueError):
        return None
    ids = text.rstrip("\n").split(" ")
    well_formed = all(len(each) == 32 and _HEX.issuperset(each) for each in ids)
    return ids if text.endswith("\n") and len(ids) <= 2 and well_formed else None


def ready_prefix(
    root: StrPath, key: str, timeout: float
) -> tuple[str, str | None, list[int]] | None:
    """The warm path: the env prefix recorded for ``key``, its code directory
    (``<root>/<codeid>/pkgtool-code``, or ``None`` when the archive has no code layer) and
    descriptors holding a shared lock on each layer's ``<id>.lock`` (its mtime set: last
    use); ``None`` when a layer is not ready."""
    ids = _recorded_ids(root, key)
    if ids is None:
        return None
    from pkgtool.runner._lock import acquire, open_lock

    fds: list[int] = []
    try:
        for layer_id in ids:
            path = os.path.join(root, f"{layer_id}.lock")
            fds.append(open_lock(path, touch=True))
            acquire(fds[-1], path, timeout, shared=True)
            if not os.path.exists(os.path.join(root, layer_id, MARKER)):
                for fd in fds:
                    os.close(fd)
                return None
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    code = os.path.join(root, ids[1], CODE_DIR) if len(ids) == 2 else None
    return os.path.join(root, ids[0]), code, fds


def _prepare(archive: StrPath, options: RunOptions) -> tuple[str, str | None, list[int]]:
    source = open_archive(archive)
    with source.stream:
        root = _checked_root(options)
        found = ready_prefix(root, source.key, options.lock_timeout)
        if found is not None:
            return found
        from pathlib import Path

        from pkgtool.runner._cold import unpack

        return unpack(source, Path(root), options.lock_timeout)


def prepare(archive: StrPath, options: RunOptions) -> Path:
    """Return the ready prefix ``<root>/<id>`` of ``archive``, unpacking it if needed.

    The warm path does not read the archive. Raises :class:`RunnerError` (see the module
    docstring for every case).
    """
    from pathlib import Path

    prefix, _code, fds = _prepare(archive, options)
    for fd in fds:
        os.close(fd)
    return Path(prefix)


def run(archive: StrPath, command: Sequence[str], options: RunOptions) -> NoReturn:
    """Prepare ``archive``, activate it and ``exec`` ``command`` (a non-empty argv).

    Does not return: on success this process becomes the command. Raises
    :class:`RunnerError` (125), :class:`~pkgtool.errors.CommandNotExecutableError` (126) or
    :class:`~pkgtool.errors.CommandNotFoundError` (127).
    """
    if not command:
        raise RunnerError("no command given", hint="pkg run ARCHIVE COMMAND [ARG...]")
    prefix, code, fds = _prepare(archive, options)
    for fd in fds:  # the command holds the shared locks: prune leaves its layers alone
        os.set_inheritable(fd, True)
    exec_command(prefix, command, code)


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
    from pathlib import Path

    return Path(__file__).with_name("pkg-run.sh")


def write_self_extracting(archive: Path, dest: Path) -> None:
    """Write ``dest``: one POSIX sh file, ``pkg-run.sh`` followed by the bytes of ``archive``.

    ``./dest COMMAND [ARG...]`` (or ``sh dest ...``) behaves as ``pkg-run.sh archive COMMAND
    [ARG...]``: same cache, same environment id (the hash of the appended archive bytes),
    same protocol and exit codes; ``pkg run dest ...`` accepts it too. Written to a temporary
    name in ``dest``'s directory, made executable, then renamed. Raises :class:`OSError`
    when ``archive`` cannot be read or ``dest`` written.
    """
    from pkgtool.runner._selfextract import write

    write(runner_script(), archive, dest)
