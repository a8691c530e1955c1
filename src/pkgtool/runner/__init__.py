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
   another uid, or writable by group or others, or when a directory above it is owned by
   neither this user nor root, or writable by group or others without the sticky bit
   (symlinks above it are resolved first; see :func:`_checked_ancestors`).
3. **Ready prefix.** ``<root>/<id>/`` holding the marker ``.pkgtool-ready`` (the id and the
   archive's absolute path, one per line), written last. Warm path: the record names an id;
   take a shared lock on ``<root>/<id>.lock``; the marker exists: go to 4. Cold path, under
   an exclusive lock on ``<root>/.key-<key>.lock``: look again; remove work directories of
   dead runs; stream the archive once through SHA-256 and the decompressor into GNU tar
   extracting into this run's own ``<root>/.work-<key>_<owner>/`` (see ``_stream``); refuse a
   damaged stream; check the names and the tree (see ``_extract``); under an exclusive lock
   on ``<root>/<id>.lock``: if the marker exists, drop the work directory; else take the claim
   ``<root>/.claim-<id>`` (see ``_claim``: a lock that does not exclude gives no wrong
   environment), remove any leftover ``<root>/<id>/``, rename the work directory to it,
   check the node against ``.pkgtool/manifest.json`` (see ``_node``), run ``bin/python
   bin/conda-unpack`` there, write the marker and flush, remove the claim; write the record;
   turn the lock into a shared one. Children inherit the cold path's locks, so a child
   outliving a killed runner holds them until it exits. A signal (TERM, INT, HUP)
   during the cold path stops the children, removes what was unpacked and exits 128+signal.
4. **Activate.** See :func:`activated_environ`: ``<prefix>/bin`` first on PATH, ``CONDA_PREFIX``,
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

**The warm path is this module alone** (``pkg run`` and ``python -m pkgtool.runner`` start
here thousands of times per job array): command line, cache root, record, shared locks,
activation, PATH search and ``execve`` use only modules the interpreter has loaded at start-up,
plus ``fcntl``. The cold path (``_cold`` and the modules it imports), :mod:`pkgtool.errors`
(imported when an error is raised) and the rest of the public API are imported when needed.
No ``from __future__ import annotations`` (it imports ``__future__``), no ``typing`` (quoted
annotations; names under ``TYPE_CHECKING``): the module still runs on Python 3.8.
"""

import os
import stat
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (ms on the warm path)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path
    from typing import BinaryIO, NoReturn

    from _typeshed import StrPath

    from pkgtool.errors import CommandNotFoundError, RunnerError

MARKER = ".pkgtool-ready"
"""Name of the completion marker inside a prefix; no archive member may use it."""
CODE_DIR = "pkgtool-code"
"""The directory of a code layer, inside ``<root>/<codeid>/``: ``$PKG_CODE_DIR``."""

__all__ = [
    "MARKER",
    "USAGE",
    "RunOptions",
    "activated_environ",
    "cache_root",
    "check_link",
    "environment_id",
    "layer_ids",
    "prepare",
    "run",
    "run_argv",
    "runner_script",
    "write_self_extracting",
]

USAGE = "usage: pkg-run [--cache-dir DIR] [--] ARCHIVE [--] COMMAND [ARG...]"
"""The runner's command line, as ``pkg-run.sh`` and ``python -m pkgtool.runner`` take it."""

DEFAULT_LOCK_TIMEOUT = 600.0
"""Seconds to wait for another run's cold path, unless ``$PKG_LOCK_TIMEOUT`` says otherwise."""

POLL_INTERVAL = 0.05
"""Seconds between two attempts to take a busy lock."""


def _error(message: str, hint: str) -> "RunnerError":
    """A :class:`~pkgtool.errors.RunnerError`: :mod:`pkgtool.errors` is imported when an
    error is raised, not on the warm path."""
    from pkgtool.errors import RunnerError

    return RunnerError(message, hint)


# ---------------------------------------------------------------------------- command line


def run_argv(argv: "Sequence[str]") -> "NoReturn":
    """Run the command line ``[--cache-dir DIR] [--] ARCHIVE [--] COMMAND [ARG...]`` (see
    :data:`USAGE`; ``-h``/``--help`` are the callers' to handle): prepare, activate and exec.

    Does not return. Raises :class:`~pkgtool.errors.RunnerError` (125) for a bad command line
    and as :func:`run`, and the errors :func:`run` raises.
    """
    cache_dir, archive, command = _parse(argv)
    run(archive, command, RunOptions(cache_dir=cache_dir))


def _parse(argv: "Sequence[str]") -> "tuple[str | None, str, list[str]]":
    args = list(argv)
    cache_dir: str | None = None
    while args and args[0].startswith("-"):
        option = args.pop(0)
        if option == "--":
            break
        if option == "--cache-dir" and args:
            cache_dir = args.pop(0)
        elif option.startswith("--cache-dir="):
            cache_dir = option.partition("=")[2]
        else:
            raise _error(f"unknown option or missing value: {option}", USAGE)
    if cache_dir == "":
        raise _error("--cache-dir needs a directory", USAGE)
    if len(args) < 2:
        raise _error("missing ARCHIVE or COMMAND", USAGE)
    command = args[1:]
    if command[:1] == ["--"]:  # ARCHIVE -- COMMAND: the "--" is not the command
        command = command[1:]
        if not command:
            raise _error("missing COMMAND after --", USAGE)
    return cache_dir, args[0], command  # str, not Path: pathlib costs ms on the warm path


# ---------------------------------------------------------------------------- options


def _default_lock_timeout() -> float:
    text = os.environ.get("PKG_LOCK_TIMEOUT", "")
    if not text:
        return DEFAULT_LOCK_TIMEOUT
    # the grammar pkg-run.sh accepts too: digits with at most one decimal point
    if text == "." or text.count(".") > 1 or text.strip("0123456789.") or not text:
        raise _error(
            f"PKG_LOCK_TIMEOUT={text!r} is not a number of seconds",
            "set it to a number such as 600, or unset it",
        )
    return float(text)


class RunOptions:
    """How to run: ``cache_dir`` (``None``: ``$PKG_CACHE_DIR`` or the per-user default) and
    ``lock_timeout`` in seconds (default ``$PKG_LOCK_TIMEOUT``, else 600; an invalid
    ``$PKG_LOCK_TIMEOUT`` raises :class:`~pkgtool.errors.RunnerError` when the options are
    made).

    A plain immutable class rather than a dataclass: importing ``dataclasses`` costs a
    third of the runner's warm-path import time."""

    __slots__ = ("cache_dir", "lock_timeout")
    cache_dir: "StrPath | None"
    lock_timeout: float

    def __init__(
        self, cache_dir: "StrPath | None" = None, lock_timeout: "float | None" = None
    ) -> None:
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


# ---------------------------------------------------------------------------- archive file


class ArchiveFile:
    """An open archive: its stream positioned at the payload, the payload's offset in bytes
    (0, or where the archive starts in a self-extracting ``env.sh``) and its record key."""

    __slots__ = ("key", "offset", "path", "stream")

    def __init__(self, path: "StrPath", stream: "BinaryIO", offset: int, key: str) -> None:
        self.path = path
        self.stream = stream
        self.offset = offset
        self.key = key


def _timestamp(seconds: int, nanoseconds: int) -> str:
    return f"{seconds}.{nanoseconds:09d}"


_ARCHIVE_HINT = "give the path of an env.tar.gz made by pkg create"


def open_archive(archive: "StrPath") -> ArchiveFile:
    """Open ``archive`` (follows symlinks) for reading; the caller closes ``.stream``.

    A file starting with ``#!`` is a self-extracting archive: its payload offset comes from
    the line ``_pr_payload=<offset>`` of its script. Raises
    :class:`~pkgtool.errors.RunnerError` when the path is missing, unreadable or not a regular
    file, or a ``#!`` file has no payload line.
    """
    try:
        # O_NONBLOCK: opening a FIFO for reading must not wait for a writer (it is refused
        # below, as every file that is not regular); reads of a regular file never block.
        fd = os.open(archive, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        stream = open(fd, "rb")  # noqa: SIM115 - returned to the caller
    except OSError as exc:
        raise _error(f"cannot read archive {archive}: {exc.strerror}", _ARCHIVE_HINT) from exc
    try:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _error(f"archive {archive} is not a regular file", _ARCHIVE_HINT)
        offset = 0
        if stream.read(2) == b"#!":
            found = _payload_offset(stream.read(1 << 16))
            if found is None:
                raise _error(f"archive {archive} is a script, not a pkgtool archive", _ARCHIVE_HINT)
            offset = found
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


def _payload_offset(head: bytes) -> "int | None":
    """The ``<offset>`` of the first line ``_pr_payload=<digits><spaces>`` in ``head`` (after
    a newline: not the first line), as ``pkg-run.sh`` reads it with ``sed``; ``None`` if no
    line matches. Plain ``bytes`` searching: ``re`` costs ms to import, on the warm path of
    ``pkg run env.sh``."""
    tag = b"\n_pr_payload="
    start = head.find(tag)
    while start >= 0:
        digits = start + len(tag)
        end = head.find(b"\n", digits)
        if end < 0:
            return None
        value = head[digits:end].rstrip(b" ")
        if value.isdigit():  # bytes.isdigit: ASCII digits only
            return int(value)
        start = head.find(tag, end)
    return None


def environment_id(archive: "StrPath") -> str:
    """The 32-hex-digit id of the environment of ``archive``: for a legacy archive the SHA-256
    of its bytes (of the payload of a self-extracting archive; reads the whole archive), for a
    layered one the id of its env layer as its index says (only the index is read and checked;
    :func:`layer_ids` gives the code layer's too). Raises :class:`~pkgtool.errors.RunnerError`
    as :func:`open_archive`, and when the index of a layered archive is damaged."""
    return layer_ids(archive)[0]


def layer_ids(archive: "StrPath") -> "tuple[str, str | None]":
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


# ---------------------------------------------------------------------------- cache root


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
        raise _error(
            "no cache directory: /tmp is not writable and TMPDIR is not set",
            "choose a node-local directory with --cache-dir or PKG_CACHE_DIR",
        )
    return os.path.abspath(chosen)


def cache_root(options: RunOptions) -> "Path":
    """The absolute cache root, created (mode 0700, parents as needed) if missing.

    Raises :class:`~pkgtool.errors.RunnerError` when it cannot be created, or is a symlink,
    not a directory, owned by another uid, or writable by group or others.
    """
    from pathlib import Path

    return Path(_checked_root(options))


_ROOT_HINT = "choose another directory with --cache-dir or PKG_CACHE_DIR"


def _checked_root(options: RunOptions) -> str:
    root = _root_path(options)
    hint = _ROOT_HINT
    try:
        parent = os.path.dirname(root)
        if not os.path.lexists(root):
            os.makedirs(parent, exist_ok=True)
        root = os.path.join(_checked_ancestors(root, parent), os.path.basename(root))
        if not os.path.lexists(root):
            _make_private_dir(root)
        info = os.lstat(root)
    except OSError as exc:
        raise _error(f"cannot create cache directory {root}: {exc.strerror}", hint) from exc
    if stat.S_ISLNK(info.st_mode):
        raise _error(f"cache directory {root} is a symlink", hint)
    if not stat.S_ISDIR(info.st_mode):
        raise _error(f"cache directory {root} is not a directory", hint)
    if info.st_uid != os.getuid():
        owner = f"uid {info.st_uid}, not by you (uid {os.getuid()})"
        raise _error(f"cache directory {root} is owned by {owner}", _SQUATTED_HINT)
    if info.st_mode & 0o022:
        mode = f"mode {stat.S_IMODE(info.st_mode):04o}"
        raise _error(f"cache directory {root} is writable by others ({mode})", hint)
    return root


_SQUATTED_HINT = (
    "another user made it and only she or root can remove it: set PKG_CACHE_DIR (or "
    "--cache-dir) to a node-local directory of yours"
)
_SAFE_HINT = (
    "another user could swap it for her own directory: choose a cache directory whose "
    "parents only you or root can change (a node-local PKG_CACHE_DIR, or the default "
    "/tmp/pkgtool-<uid>)"
)


def _checked_ancestors(root: str, parent: str) -> str:
    """``parent`` (``root``'s directory) once every directory from it up to ``/`` is safe:
    owned by this user or root, and writable by group or others only with the sticky bit
    (ssh's rule for its files). When one of them is a symlink, the check is done again on
    ``os.path.realpath(parent)``, which is returned (a second symlink: refused). One
    ``lstat`` per ancestor. Raises :class:`~pkgtool.errors.RunnerError`."""
    me = os.getuid()
    for attempt in (0, 1):
        directory = parent
        while True:
            info = os.lstat(directory)
            if stat.S_ISLNK(info.st_mode):
                break
            if info.st_uid not in (0, me):
                owner = f"owned by uid {info.st_uid} (neither you, uid {me}, nor root)"
                raise _error(
                    f"cache directory {root}: its parent {directory} is {owner}", _SAFE_HINT
                )
            if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
                mode = f"mode {stat.S_IMODE(info.st_mode):04o}, no sticky bit"
                raise _error(
                    f"cache directory {root}: its parent {directory} is writable by others "
                    f"({mode})",
                    _SAFE_HINT,
                )
            if directory == "/":
                return parent
            directory = os.path.dirname(directory)
        if attempt == 0:
            parent = os.path.realpath(parent)
    raise _error(f"cache directory {root}: its parents changed while they were checked", _SAFE_HINT)


def _make_private_dir(path: str) -> None:
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return  # a concurrent run made it; it is checked like any existing root
    os.chmod(path, 0o700)  # exactly 0700 whatever the umask


# ---------------------------------------------------------------------------- locks
# The warm path's half of ``_lock`` (which documents the lock files): open a lock file and
# take a lock, polling until a timeout. ``fcntl`` is imported when a lock is taken.


def _open_lock(path: "StrPath", *, touch: bool = False) -> int:
    """Open (create 0600) the lock file ``path``; ``touch`` truncates it to set its mtime.

    The descriptor is not inherited by children unless made so (PEP 446).
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if touch else 0)
    try:
        return os.open(path, flags, 0o600)
    except OSError as exc:
        raise _error(
            f"cannot open lock file {path}: {exc.strerror}",
            "check that the cache directory is writable and not full",
        ) from exc


def _acquire(fd: int, path: "StrPath", timeout: float, *, shared: bool = False) -> None:
    """Take (or convert to) a shared or exclusive ``flock(2)`` lock on ``fd``, polling for
    ``timeout`` s (0: a single attempt). Raises :class:`~pkgtool.errors.RunnerError` on
    timeout."""
    import fcntl
    import time

    operation = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, operation)
            return
        except BlockingIOError:
            pass
        except OSError as exc:  # ENOSYS, EINVAL, ENOLCK, EOPNOTSUPP: no flock there
            raise lock_unsupported(path, exc) from exc
        _pause(deadline, timeout, path, "archive")


def lock_unsupported(path: "StrPath", exc: OSError) -> "RunnerError":
    """The error for a ``flock(2)`` that fails other than by being busy: the filesystem of
    the cache does not support it (Lustre mounted ``noflock``, NFS without a lock manager)."""
    return _error(
        f"cannot lock {path}: {exc.strerror}: the cache directory's filesystem does not "
        "support flock (a shared filesystem such as Lustre mounted noflock?)",
        "use a node-local cache directory: --cache-dir or PKG_CACHE_DIR, e.g. the default "
        "/tmp/pkgtool-<uid>",
    )


def _pause(deadline: float, timeout: float, path: "StrPath", what: str) -> None:
    """Sleep before the next attempt, or raise :class:`~pkgtool.errors.RunnerError` once
    ``deadline`` (``time.monotonic()``) has passed."""
    import time

    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _error(
            f"timed out after {timeout:g} s waiting for lock {path} held by another run",
            f"another run is unpacking this {what}: retry later or raise "
            "PKG_LOCK_TIMEOUT (seconds)",
        )
    time.sleep(min(POLL_INTERVAL, remaining))


# ---------------------------------------------------------------------------- warm path


_HEX = frozenset("0123456789abcdef")


def _recorded_ids(root: "StrPath", key: str) -> "list[str] | None":
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
    root: "StrPath", key: str, timeout: float
) -> "tuple[str, str | None, list[int]] | None":
    """The warm path: the env prefix recorded for ``key``, its code directory
    (``<root>/<codeid>/pkgtool-code``, or ``None`` when the archive has no code layer) and
    descriptors holding a shared lock on each layer's ``<id>.lock`` (its mtime set: last
    use); ``None`` when a layer is not ready."""
    ids = _recorded_ids(root, key)
    if ids is None:
        return None
    fds: list[int] = []
    try:
        for layer_id in ids:
            path = os.path.join(root, f"{layer_id}.lock")
            fds.append(_open_lock(path, touch=True))
            _acquire(fds[-1], path, timeout, shared=True)
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


def _prepare(archive: "StrPath", options: RunOptions) -> "tuple[str, str | None, list[int]]":
    source = open_archive(archive)
    with source.stream:
        root = _checked_root(options)
        found = ready_prefix(root, source.key, options.lock_timeout)
        if found is not None:
            return found
        from pathlib import Path

        from pkgtool.runner._cold import unpack

        return unpack(source, Path(root), options.lock_timeout)


def prepare(archive: "StrPath", options: RunOptions) -> "Path":
    """Return the ready prefix ``<root>/<id>`` of ``archive``, unpacking it if needed.

    The warm path does not read the archive. Raises :class:`~pkgtool.errors.RunnerError`
    (see the module docstring for every case).
    """
    from pathlib import Path

    prefix, _code, fds = _prepare(archive, options)
    for fd in fds:
        os.close(fd)
    return Path(prefix)


def run(archive: "StrPath", command: "Sequence[str]", options: RunOptions) -> "NoReturn":
    """Prepare ``archive``, activate it and ``exec`` ``command`` (a non-empty argv).

    Does not return: on success this process becomes the command. Raises
    :class:`~pkgtool.errors.RunnerError` (125),
    :class:`~pkgtool.errors.CommandNotExecutableError` (126) or
    :class:`~pkgtool.errors.CommandNotFoundError` (127).
    """
    if not command:
        raise _error("no command given", "pkg run ARCHIVE COMMAND [ARG...]")
    prefix, code, fds = _prepare(archive, options)
    for fd in fds:  # the command holds the shared locks: prune leaves its layers alone
        os.set_inheritable(fd, True)
    _exec_command(prefix, command, code)


# ---------------------------------------------------------------------------- activation
# ``<prefix>/bin`` first on ``PATH``, ``CONDA_PREFIX`` and ``CONDA_DEFAULT_ENV`` set to the
# prefix, ``PYTHONPATH`` and ``PYTHONHOME`` removed, ``PKG_CODE_DIR`` set to the code layer's
# directory when the archive has one, removed otherwise. Then, when
# ``<prefix>/etc/conda/activate.d/*.sh`` scripts exist (the builder writes the spec's ``env``
# into ``pkgtool-env.sh`` there), the command is exec'd through ``/bin/sh``, which sources
# them in code-point order of their names and then ``exec``s the command: no process is left
# between the caller and the command either way.

ACTIVATE_D = "etc/conda/activate.d"
"""Directory of activation scripts inside a prefix; only its ``*.sh`` files are sourced."""

SHELL = "/bin/sh"

# Sourced inside a function so that a script's `shift` or `set --` cannot touch the command,
# which is kept in "$@" after the script paths. The command lookup mirrors pkg-run.sh.
_WRAPPER = r"""
_pr_source() { . "$1"; }
_pr_n=$1
shift
while [ "$_pr_n" -gt 0 ]; do
    _pr_source "$1"
    shift
    _pr_n=$((_pr_n - 1))
done
unset _pr_n
_pr_status() {
    case $1 in
    '') return 127 ;;
    */*)
        if [ -d "$1" ]; then return 126; fi
        if [ -x "$1" ]; then return 0; fi
        if [ -e "$1" ]; then return 126; fi
        return 127 ;;
    esac
    _pr_found=127
    _pr_ifs=$IFS
    IFS=:
    set -f
    for _pr_dir in $PATH; do
        _pr_file=${_pr_dir:-.}/$1
        if [ -f "$_pr_file" ] && [ -x "$_pr_file" ]; then _pr_found=0; break; fi
        if [ -e "$_pr_file" ] && [ ! -d "$_pr_file" ]; then _pr_found=126; fi
    done
    set +f
    IFS=$_pr_ifs
    return "$_pr_found"
}
_pr_status "$1"
case $? in
127)
    printf 'pkg-run: error: command not found: %s\n' "$1" >&2
    printf 'pkg-run: hint: commands are looked up on PATH with %s/bin first; check the name\n' \
        "$CONDA_PREFIX" >&2
    exit 127 ;;
126)
    printf 'pkg-run: error: command not executable: %s\n' "$1" >&2
    printf 'pkg-run: hint: check its permissions (chmod +x) and its #! line\n' >&2
    exit 126 ;;
esac
exec "$@"
"""

_NOT_EXECUTABLE_HINT = "check its permissions (chmod +x) and its #! line"


def activated_environ(
    prefix: "StrPath", base: "Mapping[str, str]", code_dir: "StrPath | None" = None
) -> "dict[str, str]":
    """A copy of ``base`` with the prefix activated (see "activation" above), and
    ``PKG_CODE_DIR`` set to ``code_dir`` (absolute: the code layer's ``pkgtool-code``
    directory) or removed when it is ``None``.

    ``prefix`` should be absolute. ``activate.d`` scripts are not applied here: they run in
    the shell that execs the command.
    """
    env = dict(base)
    bin_dir = os.path.join(prefix, "bin")
    env["PATH"] = f"{bin_dir}:{env['PATH']}" if env.get("PATH") else bin_dir
    env["CONDA_PREFIX"] = os.fspath(prefix)
    env["CONDA_DEFAULT_ENV"] = os.fspath(prefix)
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    if code_dir is None:
        env.pop("PKG_CODE_DIR", None)
    else:
        env["PKG_CODE_DIR"] = os.fspath(code_dir)
    return env


def _activation_scripts(prefix: "StrPath") -> "list[str]":
    """``<prefix>/etc/conda/activate.d/*.sh`` regular files, sorted by name (code points).

    Names starting with ``.`` are skipped, as a shell glob skips them.
    """
    directory = os.path.join(prefix, ACTIVATE_D)
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    scripts = [name for name in names if name.endswith(".sh") and not name.startswith(".")]
    paths = [os.path.join(directory, name) for name in scripts]
    return [path for path in paths if os.path.isfile(path)]


def _exec_command(
    prefix: "StrPath", command: "Sequence[str]", code_dir: "StrPath | None" = None
) -> "NoReturn":
    """Replace this process with ``command`` (non-empty) in the activated prefix
    (``PKG_CODE_DIR`` set to ``code_dir``, or removed when it is ``None``).

    Returns only by raising: :class:`~pkgtool.errors.CommandNotFoundError` (127) or
    :class:`~pkgtool.errors.CommandNotExecutableError` (126) when ``execve`` fails.
    """
    env = activated_environ(prefix, os.environ, code_dir)
    scripts = _activation_scripts(prefix)
    argv = list(command)
    if scripts:
        argv = [SHELL, "-c", _WRAPPER, "pkg-run", str(len(scripts)), *map(str, scripts), *argv]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        _execvpe(argv, env)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise _not_found(argv[0], env, prefix) from exc
    except OSError as exc:
        from pkgtool.errors import CommandNotExecutableError

        raise CommandNotExecutableError(
            f"command not executable: {argv[0]} ({exc.strerror})", hint=_NOT_EXECUTABLE_HINT
        ) from exc


def _execvpe(argv: "list[str]", env: "dict[str, str]") -> "NoReturn":
    """``os.execvpe(argv[0], argv, env)``, the same search and errors, without the
    ``import warnings`` of :func:`os.get_exec_path` (about 0.5 ms on the warm path).

    A name with a ``/`` is run as it is; otherwise each ``PATH`` entry in turn (an empty
    entry is the working directory); the first error other than "not found" is raised, else
    the last one (CPython's ``os._execvpe``).
    """
    name = argv[0]
    if "/" in name:
        os.execve(name, argv, env)
    first_other: OSError | None = None
    last: OSError = FileNotFoundError(2, "No such file or directory", name)
    for directory in env.get("PATH", os.defpath).split(os.pathsep):
        try:
            os.execve(os.path.join(directory, name), argv, env)
        except (FileNotFoundError, NotADirectoryError) as exc:
            last = exc
        except OSError as exc:
            last = exc
            first_other = first_other or exc
    raise first_other or last


def _not_found(name: str, env: "Mapping[str, str]", prefix: "StrPath") -> "CommandNotFoundError":
    import shutil  # only when exec failed: keeps the warm path's imports short

    from pkgtool.errors import CommandNotFoundError

    found = shutil.which(name, path=env.get("PATH"))
    if found:  # execve's ENOENT came from the #! interpreter, not from the command itself
        return CommandNotFoundError(
            f"cannot run {found}: its #! interpreter was not found", hint=_NOT_EXECUTABLE_HINT
        )
    hint = f"commands are looked up on PATH with {prefix}/bin first; check the name"
    return CommandNotFoundError(f"command not found: {name}", hint=hint)


# ---------------------------------------------------------------------------- the rest


def check_link(path: str, target: str) -> None:
    """Raise :class:`ValueError` unless both runners accept a symbolic link member ``path``
    (relative to the prefix, ``/``-separated) pointing to ``target``; the builder checks
    every link before packing so that no archive is refused on a node for its links."""
    from pkgtool.runner._extract import check_symlink_target

    check_symlink_target(path, target)


def runner_script() -> "Path":
    """Path of the packaged standalone POSIX runner ``pkg-run.sh``.

    Run it as ``sh <path> [--cache-dir DIR] ARCHIVE COMMAND [ARG...]``: an installer may not
    keep its executable bit.
    """
    from pathlib import Path

    return Path(__file__).with_name("pkg-run.sh")


def write_self_extracting(archive: "Path", dest: "Path") -> None:
    """Write ``dest``: one POSIX sh file, ``pkg-run.sh`` followed by the bytes of ``archive``.

    ``./dest COMMAND [ARG...]`` (or ``sh dest ...``) behaves as ``pkg-run.sh archive COMMAND
    [ARG...]``: same cache, same environment id (the hash of the appended archive bytes),
    same protocol and exit codes; ``pkg run dest ...`` accepts it too. Written to a temporary
    name in ``dest``'s directory, made executable, then renamed. Raises :class:`OSError`
    when ``archive`` cannot be read or ``dest`` written.
    """
    from pkgtool.runner._selfextract import write

    write(runner_script(), archive, dest)
