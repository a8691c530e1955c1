"""Layered archives (env, code and end layers behind an index member), against every runner.

The archives come from ``layered.py`` (an implementation of the format independent of the
builder's): the same environment members as the rest of the suite, plus a small code tree
under ``pkgtool-code/`` whose module and data file name a version.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pkgtool.runner import MARKER, environment_id, layer_ids
from pkgtool.runner._layers import parse_index

from .layered import Layered, code_members, compress, layered, members_bytes, write_layered
from .test_conformance import (
    Env,
    Member,
    assert_runner_error,
    file,
    hardlink,
    key_records,
    leftovers,
    special,
    standard_members,
    symlink,
    system_path,
    write_archive,
)
from .test_nodes import PY38

SHOW_CODE = (
    'printf "%s|" "${PKG_CODE_DIR-unset}"; '
    "python -c \"import os, sys; sys.path.insert(0, os.environ['PKG_CODE_DIR']); "
    "import mymod, pkg.util; print(mymod.VERSION, pkg.util.version(), end='|')\"; "
    'cat "$PKG_CODE_DIR/configs/run.yaml"'
)


def make(env: Env, version: str, name: str | None = None, compression: str = "gz") -> Path:
    suffix = "tar.zst" if compression == "zst" else "tar.gz"
    archive = layered(standard_members(), code_members(version), compression)
    return write_layered(env.tmp / (name or f"v{version}.{suffix}"), archive)


def ids(archive: Path) -> tuple[str, str]:
    env_id, code_id = layer_ids(archive)
    assert code_id is not None
    return env_id, code_id


def layer_dirs(cache: Path) -> set[str]:
    return {n for n in os.listdir(cache) if len(n) == 32 and (cache / n).is_dir()}


def expected_show(env: Env, archive: Path, version: str) -> str:
    code_dir = env.cache / ids(archive)[1] / "pkgtool-code"
    return f"{code_dir}|{version} {version}|version: {version}\n"


# ---------------------------------------------------------------- the format itself


@pytest.mark.parametrize("compression", ["gz", "zst"])
def test_a_layered_archive_is_one_plain_tar(tmp_path: Path, compression: str) -> None:
    """Cross-check of the test helper: plain tar (no -i) sees every member of every layer."""
    archive = tmp_path / f"env.{compression}"
    write_layered(archive, layered(standard_members(), code_members("1"), compression))
    flag = "--zstd" if compression == "zst" else "-z"
    listed = subprocess.run(["tar", "-t", flag, "-f", str(archive)], capture_output=True,
                            text=True, check=True).stdout.splitlines()  # fmt: skip
    assert listed[0] == ".pkgtool/layers"
    assert "bin/conda-unpack" in listed and "pkgtool-code/configs/run.yaml" in listed


def test_parse_index_accepts_exactly_the_documented_form() -> None:
    sha = "ab" * 32
    good = f"pkgtool-layers 1\nenv {sha} 100 50\ncode {sha} 150 10\nend {sha} 160 20\n"
    assert [layer.kind for layer in parse_index(good.encode(), 100, 180)] == ["env", "code", "end"]
    assert parse_index(good.encode(), 100, 180)[0].id == sha[:32]
    bad = [
        good.replace("env ", "env  "),  # extra space
        good.replace(sha, sha.upper(), 1),  # upper-case hex
        good.replace(" 100 ", " 0100 "),  # leading zero
        good.replace("\nend", "\nend ").replace(" 160", "160"),
        good.replace("pkgtool-layers 1", "pkgtool-layers 2"),
        good[:-1],  # no final newline
        good.replace("\n", "\r\n"),
        good.replace(f"code {sha} 150 10\n", ""),  # a gap
        good.replace("end", "code", 1),  # two code lines, no end
        f"pkgtool-layers 1\ncode {sha} 100 10\nenv {sha} 110 50\nend {sha} 160 20\n",
        good + "\n",
    ]
    for text in bad:
        with pytest.raises(ValueError):
            parse_index(text.encode(), 100, 180)
    with pytest.raises(ValueError, match="end at byte 180"):
        parse_index(good.encode(), 100, 181)  # a size mismatch
    with pytest.raises(ValueError, match="starts at 100, not 99"):
        parse_index(good.encode(), 99, 180)


# ---------------------------------------------------------------- running


def test_layered_archive_runs_with_its_code(env: Env) -> None:
    archive = make(env, "1")
    env_id, code_id = ids(archive)
    assert environment_id(archive) == env_id

    result = env.run(archive, "sh", "-c", SHOW_CODE, PKG_CODE_DIR="/caller/value")

    assert (result.returncode, result.stdout) == (0, expected_show(env, archive, "1")), (
        result.stderr
    )
    assert layer_dirs(env.cache) == {env_id, code_id}
    assert env.unpacks() == [[str(env.cache / env_id), f"{env.cache / env_id}/bin", "-"]]
    source = env.self_extracting(archive) if env.runner == "env.sh" else archive
    assert (env.cache / env_id / MARKER).read_text() == f"{env_id}\n{source}\nenv\n"
    assert (env.cache / code_id / MARKER).read_text() == f"{code_id}\n{source}\ncode\n"
    assert set(os.listdir(env.cache / code_id)) == {"pkgtool-code", MARKER}
    assert not (env.cache / env_id / "pkgtool-code").exists()
    assert [(env.cache / r).read_text() for r in key_records(env.cache)] == [
        f"{env_id} {code_id}\n"
    ]
    warm = env.run(archive, "sh", "-c", SHOW_CODE)
    assert (warm.returncode, warm.stdout) == (0, expected_show(env, archive, "1")), warm.stderr
    assert len(env.unpacks()) == 1


def test_code_dir_is_unset_without_a_code_layer(env: Env) -> None:
    no_code = write_layered(env.tmp / "nocode.tar.gz", layered(standard_members(), None))
    legacy = env.archive()
    for archive in (no_code, legacy, no_code, legacy):  # cold, then warm
        result = env.run(
            archive, "sh", "-c", 'echo "${PKG_CODE_DIR-unset}|$CONDA_PREFIX"',
            PKG_CODE_DIR="/caller/value",
        )  # fmt: skip
        assert (result.returncode, result.stdout) == (0, f"unset|{env.prefix(archive)}\n"), (
            result.stderr
        )
    assert len(env.unpacks()) == 2


@pytest.mark.parametrize("compression", ["gz", "zst"])
def test_code_only_change_on_a_warm_node_writes_only_the_code_layer(
    env: Env, compression: str
) -> None:
    first = make(env, "1", compression=compression)
    second = make(env, "2", compression=compression)
    env_id, first_code = ids(first)
    assert ids(second)[0] == env_id and ids(second)[1] != first_code
    assert env.run(first, "true").returncode == 0
    prefix = env.cache / env_id
    before = {
        "inode": prefix.stat().st_ino,
        "marker": (prefix / MARKER).stat().st_mtime_ns,
        "python": (prefix / "bin/python").stat().st_mtime_ns,
    }

    result = env.run(second, "sh", "-c", SHOW_CODE)

    assert (result.returncode, result.stdout) == (0, expected_show(env, second, "2")), result.stderr
    after = {
        "inode": prefix.stat().st_ino,
        "marker": (prefix / MARKER).stat().st_mtime_ns,
        "python": (prefix / "bin/python").stat().st_mtime_ns,
    }
    assert after == before  # the environment was not touched
    assert len(env.unpacks()) == 1  # conda-unpack did not run again
    assert layer_dirs(env.cache) == {env_id, first_code, ids(second)[1]}
    assert not [n for n in os.listdir(env.cache) if n.startswith(".work-")]
    # both code versions stay usable, warm
    again = env.run(first, "sh", "-c", SHOW_CODE)
    assert (again.returncode, again.stdout) == (0, expected_show(env, first, "1")), again.stderr
    assert env.run(second, "sh", "-c", SHOW_CODE).stdout == expected_show(env, second, "2")
    assert len(env.unpacks()) == 1


def test_legacy_and_layered_archives_share_a_cache(env: Env) -> None:
    legacy = env.archive()
    archive = make(env, "1")
    for each in (legacy, archive, legacy):
        result = env.run(each, "sh", "-c", 'echo "${PKG_CODE_DIR-unset}"')
        assert result.returncode == 0, result.stderr
    assert env.run(legacy, "sh", "-c", 'echo "${PKG_CODE_DIR-unset}"').stdout == "unset\n"
    assert len(env.unpacks()) == 2  # two different environments (different bytes)


def test_two_code_versions_run_at_the_same_time(env: Env) -> None:
    first, second = make(env, "1"), make(env, "2")
    command = ["sh", "-c", 'echo started; read line; cat "$PKG_CODE_DIR/configs/run.yaml"']
    environ = env.environ(PKG_LOCK_TIMEOUT="5")
    with subprocess.Popen(env.argv(first, command), env=environ, text=True,
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE) as one:  # fmt: skip
        assert one.stdout is not None and one.stdin is not None
        assert one.stdout.readline() == "started\n"
        # the environment is in use (shared lock): the second version's cold path must not
        # wait for it
        started = time.monotonic()
        with subprocess.Popen(env.argv(second, command), env=environ, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE) as two:  # fmt: skip
            assert two.stdout is not None and two.stdin is not None
            assert two.stdout.readline() == "started\n"
            assert time.monotonic() - started < 5
            two.stdin.write("go\n")
            two.stdin.close()
            assert two.stdout.read() == "version: 2\n"
        one.stdin.write("go\n")
        one.stdin.close()
        assert one.stdout.read() == "version: 1\n"
    assert (one.returncode, two.returncode) == (0, 0)
    assert len(env.unpacks()) == 1


def test_new_environment_installed_by_another_run_in_use_meanwhile(env: Env) -> None:
    """Two new code versions of a new environment, started together: the second to finish
    its extraction finds the environment installed and in use, and must not wait for that
    command (it claims the lock shared)."""
    first, second = make(env, "1"), make(env, "2")
    environ = env.environ(PKG_LOCK_TIMEOUT="4", PKG_TEST_UNPACK_SLEEP="0.5")
    long = ["sh", "-c", 'cat "$PKG_CODE_DIR/configs/run.yaml"; sleep 8']
    short = ["sh", "-c", 'cat "$PKG_CODE_DIR/configs/run.yaml"']
    started = time.monotonic()
    with subprocess.Popen(env.argv(first, long), env=environ, stdout=subprocess.DEVNULL) as one:
        try:
            two = subprocess.run(env.argv(second, short), env=environ, capture_output=True,
                                 text=True, timeout=30, check=False)  # fmt: skip
            assert (two.returncode, two.stdout) == (0, "version: 2\n"), two.stderr
            assert time.monotonic() - started < 8  # did not wait for the first command
        finally:
            one.kill()
    assert len(env.unpacks()) == 1


def test_two_runs_of_one_new_archive_race(env: Env) -> None:
    first, second = make(env, "1"), make(env, "2")
    assert env.run(first, "true").returncode == 0
    environ = env.environ(PKG_TEST_UNPACK_SLEEP="0.3")
    procs = [
        subprocess.Popen(env.argv(archive, ["sh", "-c", SHOW_CODE]), env=environ,
                         stdout=subprocess.PIPE, text=True)
        for archive in (second, second, first, second)
    ]  # fmt: skip
    outputs = [proc.communicate(timeout=60)[0] for proc in procs]
    expected = [expected_show(env, a, v) for a, v in ((second, "2"),) * 2 + ((first, "1"),)]
    assert outputs == [*expected, expected_show(env, second, "2")]
    assert len(env.unpacks()) == 1
    assert len(layer_dirs(env.cache)) == 3


# ---------------------------------------------------------------- damaged, unsafe


def _flip(data: bytes, position: int) -> bytes:
    out = bytearray(data)
    out[position] ^= 0x55
    return bytes(out)


def _swap(a: int, b: int) -> Callable[[list[str]], list[str]]:
    def edit(lines: list[str]) -> list[str]:
        lines = list(lines)
        lines[a], lines[b] = lines[b], lines[a]
        return lines

    return edit


def _field(line: int, field: int, change: Callable[[str], str]) -> Callable[[list[str]], list[str]]:
    def edit(lines: list[str]) -> list[str]:
        lines = list(lines)
        parts = lines[line].split(" ")
        parts[field] = change(parts[field])
        lines[line] = " ".join(parts)
        return lines

    return edit


def _bump(text: str) -> str:
    return str(int(text) + 1)


def _other_hex(text: str) -> str:
    return ("0" if text[0] != "0" else "1") + text[1:]


INDEX_LIES: dict[str, Callable[[list[str]], list[str]]] = {
    "env-offset": _field(1, 2, _bump),
    "env-length": _field(1, 3, _bump),
    "code-hash": _field(2, 1, _other_hex),
    "env-hash": _field(1, 1, _other_hex),
    "end-hash": _field(3, 1, _other_hex),
    "end-length": _field(3, 3, _bump),
    "reordered": _swap(1, 2),
    "upper-case-hex": _field(2, 1, str.upper),
    "leading-zero": _field(3, 3, lambda t: "0" + t),
    "extra-space": _field(1, 0, lambda t: t + " "),
    "no-end-line": lambda lines: lines[:3],
    "version-2": lambda lines: ["pkgtool-layers 2", *lines[1:]],
}


def _parts(good: Layered) -> dict[str, tuple[int, int]]:
    p0, env_end = len(good.p0), len(good.p0) + len(good.env)
    code_end = env_end + len(good.code or b"")
    return {"p0": (0, p0), "env": (p0, env_end), "code": (env_end, code_end),
            "end": (code_end, len(good.data))}  # fmt: skip


BYTE_DAMAGE: dict[str, Callable[[Layered], bytes]] = {
    "p0-flip": lambda g: _flip(g.data, len(g.p0) // 2),
    "p0-crc": lambda g: _flip(g.data, len(g.p0) - 6),
    "env-flip": lambda g: _flip(g.data, sum(_parts(g)["env"]) // 2),
    "code-flip": lambda g: _flip(g.data, sum(_parts(g)["code"]) // 2),
    "end-flip": lambda g: _flip(g.data, len(g.data) - 6),
    "truncated-in-env": lambda g: g.data[: sum(_parts(g)["env"]) // 2],
    "truncated-end": lambda g: g.data[:-3],
    "trailing-garbage": lambda g: g.data + b"garbage",
    "trailing-zeros": lambda g: g.data + bytes(512),
    "end-not-zeros": lambda g: (
        g.data[: _parts(g)["end"][0]] + gzip.compress(b"\x01" + bytes(1023), mtime=0)
    ),
    "p0-two-members": lambda g: _two_member_p0(g),
    # the index split over two gzip members / zstd frames, or a directory: both runners refuse
    "p0-split-gz": lambda g: layered(standard_members(), code_members("1"), p0_pieces=2).data,
    "p0-split-zst": lambda g: (
        layered(standard_members(), code_members("1"), "zst", p0_pieces=2).data
    ),
    "index-directory": lambda g: (
        layered(standard_members(), code_members("1"), index_kind=tarfile.DIRTYPE).data
    ),
    # the first member holds one header block only, whatever the paths in the archive: the
    # runner cannot read the first name from it (p0-split-gz meets this only for some paths)
    "p0-split-after-one-block": lambda g: _p0_split_after_one_block(g),
    "p0-split-after-one-block-zst": lambda g: _p0_split_after_one_block(
        layered(standard_members(), code_members("1"), "zst"), "zst"
    ),
}


def _p0_split_after_one_block(good: Layered, compression: str = "gz") -> bytes:
    """P0's tar as two gzip members (zstd frames), the first holding only its first
    512-byte block."""
    if compression == "zst":
        unzstd = ["zstd", "-d", "-c", "-q"]
        body = subprocess.run(unzstd, input=good.p0, capture_output=True, check=True).stdout
    else:
        body = gzip.decompress(good.p0)
    p0 = compress(body[:512], compression) + compress(body[512:], compression)
    return p0 + good.data[len(good.p0) :]


def _two_member_p0(good: Layered) -> bytes:
    """An index member followed, inside P0, by a second tar member (offsets kept right)."""
    extra = file("extra", "x")
    body = gzip.decompress(good.p0) + members_bytes([extra])
    for level in range(10):
        p0 = gzip.compress(body, compresslevel=level, mtime=0)
        if len(p0) == len(good.p0):
            return p0 + good.data[len(good.p0) :]
    return gzip.compress(body, mtime=0) + good.data[len(good.p0) :]  # the offsets lie then


@pytest.mark.parametrize("case", [*INDEX_LIES, *BYTE_DAMAGE])
def test_damaged_layered_archive_is_refused_then_the_good_one_runs(
    runner_env: Env, case: str
) -> None:
    env = runner_env
    good = layered(standard_members(), code_members("1"))
    if case in INDEX_LIES:
        data = layered(standard_members(), code_members("1"), edit_index=INDEX_LIES[case]).data
    else:
        data = BYTE_DAMAGE[case](good)
    damaged = env.tmp / "damaged.tar.gz"
    damaged.write_bytes(data)

    result = env.run(damaged, "true")

    assert_runner_error(result, "damaged", str(damaged))
    assert leftovers(env.cache) == []
    assert env.unpacks() == []
    archive = write_layered(env.tmp / "good.tar.gz", good)
    ok = env.run(archive, "sh", "-c", SHOW_CODE)
    assert (ok.returncode, ok.stdout) == (0, expected_show(env, archive, "1")), ok.stderr


@pytest.mark.parametrize("case", ["env-flip", "code-flip", "end-flip"])
def test_damage_is_caught_when_the_layers_are_already_ready(runner_env: Env, case: str) -> None:
    """A ready layer is only hashed, but hashed: a damaged copy never runs."""
    env = runner_env
    good = layered(standard_members(), code_members("1"))
    archive = write_layered(env.tmp / "good.tar.gz", good)
    assert env.run(archive, "true").returncode == 0
    before = leftovers(env.cache)
    damaged = env.tmp / "damaged.tar.gz"
    damaged.write_bytes(BYTE_DAMAGE[case](good))
    assert_runner_error(env.run(damaged, "true"), "damaged")
    assert leftovers(env.cache) == before
    assert env.run(archive, "sh", "-c", SHOW_CODE).stdout == expected_show(env, archive, "1")
    assert len(env.unpacks()) == 1


def _code_cases() -> dict[str, tuple[list[Member], str]]:
    """Name -> (code members, text of the error line: GNU tar itself refuses '..')."""
    base = code_members("1")
    return {
        "symlink": ([*base, symlink("pkgtool-code/link", "mymod.py")], "unsafe member"),
        "outside": ([*base, file("bin/evil", "x")], "unsafe member 'bin/evil'"),
        "top-level-file": ([*base, file("README", "x")], "unsafe member 'README'"),
        "hard-link": (
            [*base, hardlink("pkgtool-code/h", "pkgtool-code/mymod.py")],
            "unsafe member",
        ),
        "marker": ([*base, file(".pkgtool-ready", "x")], "unsafe member '.pkgtool-ready'"),
        "dotdot": ([*base, file("pkgtool-code/../x", "x")], "pkgtool-code/../x"),
        "fifo": ([*base, special("pkgtool-code/fifo", tarfile.FIFOTYPE)], "unsafe member"),
    }


@pytest.mark.parametrize("case", list(_code_cases()))
def test_unsafe_code_layer_is_refused(runner_env: Env, case: str) -> None:
    env = runner_env
    members, needle = _code_cases()[case]
    bad = write_layered(env.tmp / "bad.tar.gz", layered(standard_members(), members))
    assert_runner_error(env.run(bad, "true"), needle)
    assert leftovers(env.cache) == []
    assert env.unpacks() == []
    good = make(env, "1")
    assert env.run(good, "sh", "-c", SHOW_CODE).stdout == expected_show(env, good, "1")


def test_unsafe_env_layer_is_refused(runner_env: Env) -> None:
    env = runner_env
    members = [*standard_members(), symlink("lib/escape", "../../outside")]
    bad = write_layered(env.tmp / "bad.tar.gz", layered(members, code_members("1")))
    assert_runner_error(env.run(bad, "true"), "unsafe member")
    assert leftovers(env.cache) == []


def test_legacy_archive_whose_first_member_is_not_the_index(env: Env) -> None:
    """An old archive that merely contains .pkgtool/layers later on is still a legacy one."""
    members = [*standard_members(), file(".pkgtool/layers", "pkgtool-layers 1\n")]
    archive = write_archive(env.tmp / "old.tar.gz", members)
    result = env.run(archive, "sh", "-c", 'cat "$CONDA_PREFIX/.pkgtool/layers"')
    assert (result.returncode, result.stdout) == (0, "pkgtool-layers 1\n"), result.stderr
    assert env.prefix(archive).name == hashlib.sha256(archive.read_bytes()).hexdigest()[:32]


@pytest.mark.parametrize("compression", ["gz", "zst"])
def test_layer_with_the_other_compression_is_damaged(runner_env: Env, compression: str) -> None:
    """zstd -d reads gzip too (built with zlib), and the sh runner decodes both with it."""
    env = runner_env
    other = "zst" if compression == "gz" else "gz"
    mixed = layered(
        standard_members(), code_members("1"), compression=compression, code_compression=other
    )
    damaged = write_layered(env.tmp / f"mixed.tar.{compression}", mixed)
    assert_runner_error(env.run(damaged, "true"), "damaged")
    assert leftovers(env.cache) == []
    if env.runner == "python" and compression == "zst":  # -S: no zstandard, a zstd child
        argv = [sys.executable, "-S", "-m", "pkgtool.runner", "--cache-dir", str(env.cache)]
        result = subprocess.run([*argv, str(damaged), "true"], capture_output=True, text=True,
                                env=env.environ(), check=False)  # fmt: skip
        assert_runner_error(result, "its code layer does not start with a zstd frame")
        assert leftovers(env.cache) == []


def test_members_of_a_layer_are_whole() -> None:
    """The helper's layers hold whole tar members and no end-of-archive blocks."""
    raw = members_bytes(standard_members())
    assert len(raw) % 512 == 0 and raw[-512:] != bytes(512)
    with tarfile.open(fileobj=io.BytesIO(raw)) as archive:
        assert [m.name for m in archive.getmembers()] == [m.info.name for m in standard_members()]


# ---------------------------------------------------------------- other tools, other Pythons


@pytest.mark.parametrize("openssl", ["missing", "wrong"])
@pytest.mark.parametrize("runner", ["dash", "bash-posix"])
def test_layers_are_hashed_without_a_working_openssl_too(
    tmp_path: Path, runner: str, openssl: str
) -> None:
    """openssl is optional: without it, or with one whose digest of a known input is wrong
    (a stub, a broken build), sha256sum hashes the archive, cold and ready layers alike."""
    env = Env(tmp_path, runner)
    first, second = make(env, "1"), make(env, "2")
    path = system_path(tmp_path / "without-openssl", without=["openssl"])
    if openssl == "wrong":  # well-formed, wrong: trusting it would call every archive damaged
        stub = Path(path, "openssl")
        stub.write_text("#!/bin/sh\ncat >/dev/null\necho " + "0" * 64 + " '*stdin'\n")
        stub.chmod(0o755)
    assert env.run(first, "true", PATH=path).returncode == 0
    result = env.run(second, "sh", "-c", SHOW_CODE, PATH=path)
    assert (result.returncode, result.stdout) == (0, expected_show(env, second, "2")), result.stderr
    good = layered(standard_members(), code_members("3"))
    damaged = env.tmp / "damaged.tar.gz"
    damaged.write_bytes(BYTE_DAMAGE["env-flip"](good))
    assert_runner_error(env.run(damaged, "true", PATH=path), "damaged")
    assert len(env.unpacks()) == 1


@pytest.mark.skipif(not PY38.exists(), reason=f"{PY38} is not installed")
@pytest.mark.parametrize("compression", ["gz", "zst"])
def test_python_runner_on_python_3_8_without_zstandard(tmp_path: Path, compression: str) -> None:
    env = Env(tmp_path, "python")
    first, second = make(env, "1", compression=compression), make(env, "2", compression=compression)
    argv = [str(PY38), "-m", "pkgtool.runner", "--cache-dir", str(env.cache)]
    for archive, version in ((first, "1"), (second, "2"), (first, "1")):
        result = subprocess.run([*argv, str(archive), "sh", "-c", SHOW_CODE], capture_output=True,
                                text=True, env=env.environ(), check=False)  # fmt: skip
        assert (result.returncode, result.stdout) == (0, expected_show(env, archive, version)), (
            result.stderr
        )
    assert len(env.unpacks()) == 1
    good = layered(standard_members(), code_members("3"), compression)
    for case in ("end-flip", "p0-flip", "trailing-garbage"):
        damaged = env.tmp / f"{case}.{compression}"
        damaged.write_bytes(BYTE_DAMAGE[case](good))
        result = subprocess.run([*argv, str(damaged), "true"], capture_output=True, text=True,
                                env=env.environ(), check=False)  # fmt: skip
        assert_runner_error(result, "damaged")
