"""The cold path: one locked pass from an archive file to a ready prefix (step 3 of the
protocol in the package docstring)."""

from __future__ import annotations

import errno
import importlib
import os
import shutil
import signal
import subprocess
from pathlib import Path
from types import FrameType
from typing import Any, Callable, List, Optional, Tuple, Union

from pkgtool.errors import RunnerError
from pkgtool.runner import MARKER, ArchiveFile, _claim, activated_environ, ready_prefix
from pkgtool.runner._extract import check_names, check_tree
from pkgtool.runner._layers import read_index
from pkgtool.runner._lock import acquire, exclusive_lock, open_lock
from pkgtool.runner._node import check_node
from pkgtool.runner._stream import ZSTD_MAGIC, Extraction, stream_extract

_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class SignalledError(RunnerError):
    """A signal stopped the cold path; exit status 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        name = signal.Signals(signum).name
        super().__init__(
            f"stopped by {name} while unpacking; nothing was left in the cache",
            hint="run the command again to unpack the environment",
        )
        self.exit_code = 128 + signum


class _Signalled(BaseException):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_signalled(signum: int, _frame: FrameType | None) -> None:
    raise _Signalled(signum)


Handler = Union[Callable[[int, Optional[FrameType]], Any], int, None]


Ready = Tuple[str, Optional[str], List[int]]  # typing's: evaluated at run time (3.8)


def unpack(source: ArchiveFile, root: Path, timeout: float) -> Ready:
    """Unpack ``source`` into ``root`` unless another run did; return the ready prefix, the
    code directory (``None`` unless the archive has a code layer) and descriptors holding a
    shared lock on each layer's ``<id>.lock``.

    Raises :class:`RunnerError` (damaged or unsafe archive, missing tool, incompatible node,
    conda-unpack failure, lock timeout, disk full) or :class:`SignalledError`.
    """
    _check_tools(source)
    children: list[subprocess.Popen[bytes]] = []
    previous: dict[signal.Signals, Handler] = {}
    work = root / f".work-{source.key}_{_claim.owner()}"  # this run's alone
    for signum in _SIGNALS:
        previous[signum] = signal.signal(signum, _raise_signalled)
    try:
        with exclusive_lock(root / f".key-{source.key}.lock", timeout) as key_fd:
            found = ready_prefix(root, source.key, timeout)
            if found is not None:
                return found
            return _unpack_locked(source, root, work, timeout, key_fd, children)
    except _Signalled as exc:
        stop_children(children)
        _remove_tree(work)
        raise SignalledError(exc.signum) from None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _check_tools(source: ArchiveFile) -> None:
    missing = [] if shutil.which("tar") else ["tar"]
    head = source.stream.read(4)
    source.stream.seek(source.offset)
    if head == ZSTD_MAGIC and not shutil.which("zstd"):
        try:
            importlib.import_module("zstandard")
        except ImportError:
            missing.append("zstd (or the Python module zstandard)")
    if missing:
        raise RunnerError(
            f"cannot unpack {Path(source.path)}: {' and '.join(missing)} not found on PATH",
            hint="install it on this node, or use the other runner (pkg-run.sh)",
        )
    version = subprocess.run(
        ["tar", "--version"], capture_output=True, env={**os.environ, "LC_ALL": "C"}, check=False
    )
    if b"GNU tar" not in version.stdout:  # the safety rules rely on GNU tar's (docs/runner.md)
        raise RunnerError(
            f"cannot unpack {Path(source.path)}: the runner needs GNU tar; tar on PATH is not "
            "GNU tar",
            hint="put GNU tar first on PATH",
        )


def stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    """Kill the children still running and wait for all of them."""
    for child in children:
        if child.poll() is None:
            child.kill()
    for child in children:
        child.wait()


def _unpack_locked(
    source: ArchiveFile,
    root: Path,
    work: Path,
    timeout: float,
    key_fd: int,
    children: list[subprocess.Popen[bytes]],
) -> Ready:
    _remove_dead_work(root, source.key)
    try:
        os.mkdir(work, 0o700)
    except OSError as exc:
        raise RunnerError(
            f"cannot create {work}: {exc.strerror}", hint="check that the cache has free space"
        ) from exc
    try:
        size = os.fstat(source.stream.fileno()).st_size - source.offset
        index = read_index(Path(source.path), source.stream, source.offset, size)
        if index is not None:
            from pkgtool.runner._layered import unpack_layered

            return unpack_layered(source, root, work, index, timeout, key_fd, children)
        source.stream.seek(source.offset)
        prefix, fd = _extract_and_install(source, root, work, timeout, key_fd, children)
        return prefix, None, [fd]
    except OSError as exc:  # the cache's disk: full, read-only, gone
        raise RunnerError(
            f"cannot unpack {Path(source.path)} into {root}: {exc.strerror}",
            hint="check that the cache directory is writable and has free space",
        ) from exc
    finally:
        # Children first: a signal lands here before unpack() stops them, and removing the
        # work directory while tar still writes into it fails ("Directory not empty").
        stop_children(children)
        _remove_tree(work)


def _extract_and_install(
    source: ArchiveFile,
    root: Path,
    work: Path,
    timeout: float,
    key_fd: int,
    children: list[subprocess.Popen[bytes]],
) -> tuple[str, int]:
    tree = work / "tree"
    os.mkdir(tree, 0o700)
    size = os.fstat(source.stream.fileno()).st_size - source.offset
    result = stream_extract(
        Path(source.path), source.stream, tree, (key_fd,), children, compressed=size
    )
    check_extraction(Path(source.path), work, tree, result, check_names, check_tree)
    env_id = result.env_id
    lock_path = root / f"{env_id}.lock"
    id_fd = open_lock(lock_path, touch=True)
    try:
        acquire(id_fd, lock_path, timeout)
        prefix = root / env_id
        if not os.path.exists(prefix / MARKER):
            _install(source, tree, prefix, (key_fd, id_fd), children, work, timeout)
        write_record(root, source.key, env_id)
        acquire(id_fd, lock_path, timeout, shared=True)
    except BaseException:
        os.close(id_fd)
        raise
    return str(prefix), id_fd


def _install(
    source: ArchiveFile,
    tree: Path,
    prefix: Path,
    keep_fds: tuple[int, ...],
    children: list[subprocess.Popen[bytes]],
    work: Path,
    timeout: float,
) -> None:
    root = prefix.parent
    if not _claim.take(root, prefix.name, timeout):
        return  # another run installed it meanwhile (a lock that did not exclude)
    try:
        _remove_tree(prefix)  # a dead run's leftover: only the claim's holder touches it
        os.rename(tree, prefix)
        check_node(prefix, Path(source.path))
        conda_unpack(prefix, keep_fds, children)
        # The work directory goes before the marker: a run killed between the two must not
        # leave a leftover that the next (warm) run never looks at.
        _remove_tree(work)
        _claim.check_held(root, prefix.name)
        write_marker(prefix, prefix.name, Path(source.path))
    except BaseException:
        stop_children(children)
        if _claim.holds(root, prefix.name):
            _remove_tree(prefix)
        _claim.release(root, prefix.name)
        raise
    _claim.release(root, prefix.name)


def check_extraction(
    archive: Path,
    work: Path,
    tree: Path,
    result: Extraction,
    names_check: Callable[[Path, bytes], None],
    tree_check: Callable[[Path, Path], None],
) -> None:
    """Refuse a full disk, unsafe names or tree entries, then tar's own failure, in that
    order (each :class:`RunnerError`)."""
    if result.tar_status != 0 and _disk_full(result.tar_errors, work):
        raise RunnerError(
            f"cannot extract {archive} into {work.parent}: No space left on device",
            hint="free space there, or choose another cache directory with --cache-dir "
            "or PKG_CACHE_DIR",
        )
    names_check(archive, result.names)
    tree_check(archive, tree)
    if result.tar_status != 0:
        raise RunnerError(
            f"cannot extract {archive}: {_tar_message(result.tar_errors, result.tar_status)}",
            hint="the archive was not made by pkg create or was altered, "
            "or the cache directory is full",
        )


def _disk_full(tar_errors: str, work: Path) -> bool:
    """Did tar fail for want of space? Its message, or a small write that fails now."""
    if "No space left on device" in tar_errors:
        return True
    try:
        with open(work / "probe", "wb") as probe:
            probe.write(b"probe\n")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        return exc.errno == errno.ENOSPC
    return False


def _tar_message(errors: str, status: int) -> str:
    lines = [line.strip() for line in errors.splitlines() if line.strip()]
    useful = [line for line in lines if "Removing leading" not in line]
    return (useful or lines or [f"tar exit status {status}"])[0]


def _remove_dead_work(root: Path, key: str) -> None:
    """Remove the work directories of runs that died (see :func:`_claim.dead_work`)."""
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        if name.startswith(".work-") and _claim.dead_work(root, name, key):
            _remove_tree(root / name)


def conda_unpack(
    prefix: Path, keep_fds: tuple[int, ...], children: list[subprocess.Popen[bytes]]
) -> None:
    """Run ``<prefix>/bin/python <prefix>/bin/conda-unpack`` when the script exists; the
    child inherits ``keep_fds``. Raises :class:`RunnerError` when it fails."""
    script = prefix / "bin" / "conda-unpack"
    if not script.is_file():
        return
    python = prefix / "bin" / "python"
    argv = [str(python), str(script)]
    env = activated_environ(prefix, os.environ)
    try:
        child = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=2, pass_fds=keep_fds
        )
    except OSError as exc:
        raise RunnerError(
            f"cannot run conda-unpack in {prefix}: {python}: {exc.strerror}",
            hint="the archive has bin/conda-unpack but no working bin/python; rebuild it",
        ) from exc
    children.append(child)
    status = child.wait()
    if status != 0:
        raise RunnerError(
            f"conda-unpack failed in {prefix} (exit status {status})",
            hint="see its messages above; the next run unpacks the environment again",
        )


def write_marker(prefix: Path, layer_id: str, archive: Path, kind: str | None = None) -> None:
    """Write and flush ``<prefix>/.pkgtool-ready``: the id, the archive's absolute path and,
    for a layer of a layered archive, its kind (``env`` or ``code``), one per line."""
    where = os.path.abspath(archive).replace("\n", "?")
    text = f"{layer_id}\n{where}\n" + (f"{kind}\n" if kind else "")
    _write_file(prefix / MARKER, text, exclusive=True)
    _fsync_dir(prefix)
    _fsync_dir(prefix.parent)


def write_record(root: Path, key: str, ids: str) -> None:
    """Write the record ``<root>/.key-<key>``: ``ids`` (the env id, then the code layer's id
    after one space when there is one) and a newline; atomically."""
    temporary = root / f".key-{key}.tmp-{_claim.owner()}"
    _write_file(temporary, f"{ids}\n", exclusive=False)
    os.replace(temporary, root / f".key-{key}")


def _write_file(path: Path, text: str, *, exclusive: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    try:
        fd = os.open(path, flags, 0o644)
        try:
            os.write(fd, text.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise RunnerError(
            f"cannot write {path}: {exc.strerror}",
            hint="check that the cache directory has free space",
        ) from exc


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_tree(path: Path) -> None:
    """Remove ``path`` (a file, a link or a tree with read-only directories) if it exists.

    Raises :class:`RunnerError` when it cannot.
    """
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
            f"cannot remove {path}: {exc.strerror}", hint=f"remove {path} by hand"
        ) from exc


_remove_tree = remove_tree


def _make_writable(top: Path) -> None:
    os.chmod(top, 0o700)
    for directory, subdirs, _files in os.walk(top):
        for name in subdirs:
            child = os.path.join(directory, name)
            if not os.path.islink(child):
                os.chmod(child, 0o700)
