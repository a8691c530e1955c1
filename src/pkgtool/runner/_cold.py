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
from typing import Any, Callable, Optional, Union

from pkgtool.errors import RunnerError
from pkgtool.runner import MARKER, ArchiveFile, activated_environ, ready_prefix
from pkgtool.runner._extract import check_names, check_tree
from pkgtool.runner._lock import acquire, exclusive_lock, open_lock, try_exclusive
from pkgtool.runner._node import check_node
from pkgtool.runner._stream import ZSTD_MAGIC, stream_extract

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


def unpack(source: ArchiveFile, root: Path, timeout: float) -> tuple[str, int]:
    """Unpack ``source`` into ``root`` unless another run did; return the ready prefix and a
    descriptor holding a shared lock on its ``<id>.lock``.

    Raises :class:`RunnerError` (damaged or unsafe archive, missing tool, incompatible node,
    conda-unpack failure, lock timeout, disk full) or :class:`SignalledError`.
    """
    _check_tools(source)
    children: list[subprocess.Popen[bytes]] = []
    previous: dict[signal.Signals, Handler] = {}
    for signum in _SIGNALS:
        previous[signum] = signal.signal(signum, _raise_signalled)
    try:
        with exclusive_lock(root / f".key-{source.key}.lock", timeout) as key_fd:
            found = ready_prefix(root, source.key, timeout)
            if found is not None:
                return found
            return _unpack_locked(source, root, timeout, key_fd, children)
    except _Signalled as exc:
        _stop(children)
        _remove_tree(root / f".work-{source.key}")
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


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.kill()
    for child in children:
        child.wait()


def _unpack_locked(
    source: ArchiveFile,
    root: Path,
    timeout: float,
    key_fd: int,
    children: list[subprocess.Popen[bytes]],
) -> tuple[str, int]:
    _remove_dead_work(root, source.key)
    work = root / f".work-{source.key}"
    _remove_tree(work)
    try:
        os.mkdir(work, 0o700)
    except OSError as exc:
        raise RunnerError(
            f"cannot create {work}: {exc.strerror}", hint="check that the cache has free space"
        ) from exc
    try:
        return _extract_and_install(source, root, work, timeout, key_fd, children)
    except OSError as exc:  # the cache's disk: full, read-only, gone
        raise RunnerError(
            f"cannot unpack {Path(source.path)} into {root}: {exc.strerror}",
            hint="check that the cache directory is writable and has free space",
        ) from exc
    finally:
        # Children first: a signal lands here before unpack() stops them, and removing the
        # work directory while tar still writes into it fails ("Directory not empty").
        _stop(children)
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
    result = stream_extract(Path(source.path), source.stream, tree, (key_fd,), children)
    if result.tar_status != 0 and _disk_full(result.tar_errors, work):
        raise RunnerError(
            f"cannot extract {Path(source.path)} into {root}: No space left on device",
            hint="free space there, or choose another cache directory with --cache-dir "
            "or PKG_CACHE_DIR",
        )
    check_names(Path(source.path), result.names)
    check_tree(Path(source.path), tree)
    if result.tar_status != 0:
        raise RunnerError(
            f"cannot extract {source.path}: {_tar_message(result.tar_errors, result.tar_status)}",
            hint="the archive was not made by pkg create or was altered, "
            "or the cache directory is full",
        )
    env_id = result.env_id
    lock_path = root / f"{env_id}.lock"
    id_fd = open_lock(lock_path, touch=True)
    try:
        acquire(id_fd, lock_path, timeout)
        prefix = root / env_id
        if not os.path.exists(prefix / MARKER):
            _install(source, tree, prefix, (key_fd, id_fd), children, work)
        _write_record(root, source.key, env_id)
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
) -> None:
    _remove_tree(prefix)
    try:
        os.rename(tree, prefix)
        check_node(prefix, Path(source.path))
        _conda_unpack(prefix, keep_fds, children)
        # The work directory goes before the marker: a run killed between the two must not
        # leave a leftover that the next (warm) run never looks at.
        _remove_tree(work)
        _write_marker(prefix, prefix.name, Path(source.path))
    except BaseException:
        _stop(children)
        _remove_tree(prefix)
        raise


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
    """Remove the work directories of runs that died (their key lock is free)."""
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        if not name.startswith(".work-"):
            continue
        other = name[len(".work-") :]
        if other == key:
            continue
        lock_path = root / f".key-{other}.lock"
        if not os.path.exists(lock_path):
            continue
        fd = open_lock(lock_path)
        try:
            if try_exclusive(fd):
                _remove_tree(root / name)
        finally:
            os.close(fd)


def _conda_unpack(
    prefix: Path, keep_fds: tuple[int, ...], children: list[subprocess.Popen[bytes]]
) -> None:
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


def _write_marker(prefix: Path, env_id: str, archive: Path) -> None:
    where = os.path.abspath(archive).replace("\n", "?")
    _write_file(prefix / MARKER, f"{env_id}\n{where}\n", exclusive=True)
    _fsync_dir(prefix)
    _fsync_dir(prefix.parent)


def _write_record(root: Path, key: str, env_id: str) -> None:
    temporary = root / f".key-{key}.tmp{os.getpid()}"
    _write_file(temporary, f"{env_id}\n", exclusive=False)
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
