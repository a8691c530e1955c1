"""The Python runner's public functions, called in process, and the member rules as units."""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pkgtool.errors import CommandNotExecutableError, CommandNotFoundError, RunnerError
from pkgtool.runner import (
    MARKER,
    RunOptions,
    activated_environ,
    cache_root,
    environment_id,
    open_archive,
    prepare,
    run,
    runner_script,
    write_self_extracting,
)
from pkgtool.runner._extract import check_symlink_target, member_path

from .test_conformance import file, standard_members, write_archive


@pytest.mark.parametrize("size", [0, 10, 65536, 300_000])
def test_environment_id_is_the_sha256_of_every_byte(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    archive = tmp_path / "env.tar.gz"
    archive.write_bytes(data)
    assert environment_id(archive) == hashlib.sha256(data).hexdigest()[:32]
    if size:  # one byte anywhere changes it
        flipped = bytearray(data)
        flipped[size // 2] ^= 1
        archive.write_bytes(bytes(flipped))
        assert environment_id(archive) != hashlib.sha256(data).hexdigest()[:32]


def test_environment_id_of_a_self_extracting_archive_is_its_payloads(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "env.tar.gz", standard_members())
    selfx = tmp_path / "env.sh"
    write_self_extracting(archive, selfx)
    assert environment_id(selfx) == environment_id(archive)
    opened = open_archive(selfx)
    opened.stream.close()
    assert opened.offset == selfx.stat().st_size - archive.stat().st_size


def test_record_key_changes_when_the_archive_is_replaced_in_place(tmp_path: Path) -> None:
    archive = tmp_path / "env.tar.gz"
    archive.write_bytes(b"a" * 100)
    before = os.stat(archive)
    first = open_archive(archive)
    first.stream.close()
    with open(archive, "r+b") as stream:  # same inode, same size, mtime put back
        stream.write(b"b" * 100)
    os.utime(archive, ns=(before.st_atime_ns, before.st_mtime_ns))
    second = open_archive(archive)
    second.stream.close()
    assert os.stat(archive).st_mtime_ns == before.st_mtime_ns
    assert first.key.split("-")[:4] == second.key.split("-")[:4]
    assert first.key != second.key  # ctime moved


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_environment_id_of_unreadable_archive(tmp_path: Path, kind: str) -> None:
    archive = tmp_path / "env.tar.gz"
    if kind == "directory":
        archive.mkdir()
    with pytest.raises(RunnerError, match="archive") as info:
        environment_id(archive)
    assert str(archive) in info.value.message
    assert info.value.exit_code == 125
    assert info.value.hint


def test_activated_environ_does_not_touch_its_base() -> None:
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": "x", "PYTHONHOME": "y", "KEEP": "1"}
    env = activated_environ(Path("/cache/abc"), base)
    assert env == {
        "PATH": "/cache/abc/bin:/usr/bin:/bin",
        "CONDA_PREFIX": "/cache/abc",
        "CONDA_DEFAULT_ENV": "/cache/abc",
        "KEEP": "1",
    }
    assert base["PYTHONPATH"] == "x"
    assert activated_environ(Path("/p"), {})["PATH"] == "/p/bin"


def test_lock_timeout_default_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PKG_LOCK_TIMEOUT", raising=False)
    assert RunOptions().lock_timeout == 600.0
    monkeypatch.setenv("PKG_LOCK_TIMEOUT", "2.5")
    assert RunOptions().lock_timeout == 2.5
    assert RunOptions(lock_timeout=3).lock_timeout == 3
    for bad in ("soon", "-1", "1e3", ".", "inf"):
        monkeypatch.setenv("PKG_LOCK_TIMEOUT", bad)
        with pytest.raises(RunnerError, match="PKG_LOCK_TIMEOUT"):
            RunOptions()


def test_cache_root_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.delenv("PKG_CACHE_DIR", raising=False)
    root = cache_root(RunOptions())
    assert root == Path(f"/tmp/pkgtool-{os.getuid()}")  # not TMPDIR: per task on batch systems
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    monkeypatch.setenv("PKG_CACHE_DIR", str(tmp_path / "env"))
    assert cache_root(RunOptions()) == tmp_path / "env"
    monkeypatch.chdir(tmp_path)
    assert cache_root(RunOptions(cache_dir=Path("rel/x/"))) == tmp_path / "rel" / "x"


def test_cache_root_refusals(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    (tmp_path / "link").symlink_to(tmp_path)
    for name, needle in [("file", "not a directory"), ("link", "symlink")]:
        with pytest.raises(RunnerError, match=needle):
            cache_root(RunOptions(cache_dir=tmp_path / name))


def test_prepare_then_exec_failures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PKG_TEST_LOG", str(tmp_path / "log"))
    archive = write_archive(tmp_path / "env.tar.gz", standard_members(activate_d=False))
    options = RunOptions(cache_dir=tmp_path / "cache")

    prefix = prepare(archive, options)

    assert prefix == tmp_path / "cache" / environment_id(archive)
    assert (prefix / MARKER).is_file()
    assert prepare(archive, options) == prefix
    assert len((tmp_path / "log").read_text().splitlines()) == 1
    # exec fails, so these return (by raising) instead of replacing the test process
    with pytest.raises(CommandNotFoundError, match="pkgtool-no-such-command") as missing:
        run(archive, ["pkgtool-no-such-command"], options)
    assert missing.value.exit_code == 127
    with pytest.raises(CommandNotExecutableError, match="notexec") as denied:
        run(archive, ["notexec"], options)
    assert denied.value.exit_code == 126
    with pytest.raises(RunnerError, match="no command"):
        run(archive, [], options)


def test_missing_interpreter_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    members = [*standard_members(activate_d=False), file("bin/orphan", "#!/no/such/sh\n", 0o755)]
    archive = write_archive(tmp_path / "env.tar.gz", members)
    options = RunOptions(cache_dir=tmp_path / "cache")
    monkeypatch.setenv("PKG_TEST_LOG", str(tmp_path / "log"))
    with pytest.raises(CommandNotFoundError, match="interpreter"):
        run(archive, ["orphan"], options)


def test_runner_script_is_shipped_and_posix() -> None:
    script = runner_script()
    assert script.name == "pkg-run.sh"
    assert script.is_file()
    assert script.read_text().startswith("#!/bin/sh\n")
    for shell in (["dash", "-n"], ["bash", "--posix", "-n"], ["checkbashisms"]):
        if shutil.which(shell[0]):
            subprocess.run([*shell, str(script)], check=True)


# ---------------------------------------------------------------- member rules


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bin/python", "bin/python"),
        ("./bin//python", "bin/python"),
        ("./", ""),
        ("lib/.pkgtool-ready", "lib/.pkgtool-ready"),
        (".pkgtool-ready.tmp", ".pkgtool-ready.tmp"),
    ],
)
def test_member_path_accepts(name: str, expected: str) -> None:
    assert member_path(name) == expected


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "a/../../x", "a/..", ".pkgtool-ready"])
def test_member_path_refuses(name: str) -> None:
    with pytest.raises(ValueError):
        member_path(name)


@pytest.mark.parametrize(
    ("path", "target", "ok"),
    [
        ("bin/python3", "python3.11", True),
        ("lib/libz.so", "../lib/libz.so.1", True),
        ("a/b/c", "../../x/y", True),
        ("a/b/c", "../../..", False),
        ("top", "..", False),
        ("top", ".", True),
        ("a/b", "/usr/lib", False),
        ("a/b", "x/../y", False),
        ("a/b", "./../c", True),
    ],
)
def test_symlink_targets(path: str, target: str, ok: bool) -> None:
    if ok:
        check_symlink_target(path, target)
    else:
        with pytest.raises(ValueError):
            check_symlink_target(path, target)


_COMPONENT = st.sampled_from(["a", "b", "..", ".", ""])


@given(
    st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=4),
    st.lists(_COMPONENT, min_size=1, max_size=6),
)
def test_accepted_symlink_targets_resolve_inside(path: list[str], target: list[str]) -> None:
    """Lexically resolved from the link's directory, an accepted target never leaves."""
    link = "/".join(path)
    text = "/".join(target)
    try:
        check_symlink_target(link, text)
    except ValueError:
        return
    resolved = posixpath.normpath(posixpath.join("/prefix", posixpath.dirname(link), text))
    assert resolved == "/prefix" or resolved.startswith("/prefix/")
