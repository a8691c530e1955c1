"""Damaged archives never become ready environments, whichever runner meets them first.

Each case runs a damaged copy of a good archive (truncated, bytes flipped, bad checksum,
trailing bytes, not compressed, compressed but not tar, empty, a directory) and then the good
archive in the same cache: the damaged run exits 125 saying so and leaves nothing but lock
files, and the good run works. The environment id is the hash of every byte, so the two can
never share a prefix, in either order.
"""

from __future__ import annotations

import functools
import gzip
import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from pkgtool.runner import MARKER, environment_id

from .test_conformance import (
    Env,
    assert_runner_error,
    file,
    leftovers,
    standard_members,
    tar_bytes,
    write_archive,
    zstd_compress,
)

Damage = Callable[[bytes], bytes]


def _flip(position: Callable[[int], int]) -> Damage:
    def damage(data: bytes) -> bytes:
        out = bytearray(data)
        out[position(len(data))] ^= 0x55
        return bytes(out)

    return damage


@functools.cache
def _payload() -> bytes:
    """Compressible but not trivial content, so that flips land in real compressed data."""
    rng = random.Random(7)
    words = [f"word{i}" for i in range(500)]
    return " ".join(rng.choice(words) for _ in range(60_000)).encode()


GZIP_CASES: dict[str, tuple[Damage, str]] = {
    "truncated-10": (lambda d: d[:10], "damaged"),
    "truncated-third": (lambda d: d[: len(d) // 3], "damaged"),
    "truncated-two-thirds": (lambda d: d[: 2 * len(d) // 3], "damaged"),
    "cut-trailer": (lambda d: d[:-4], "damaged"),
    "truncated-last-byte": (lambda d: d[:-1], "damaged"),
    "flip-near-start": (_flip(lambda n: 40), "damaged"),
    "flip-middle": (_flip(lambda n: n // 2), "damaged"),
    "flip-near-end": (_flip(lambda n: n - 12), "damaged"),
    "bad-crc": (_flip(lambda n: n - 8), "damaged"),
    "bad-size": (_flip(lambda n: n - 2), "damaged"),
    "trailing-garbage": (lambda d: d + b"garbage after the end\n", "damaged"),
    "trailing-zeros": (lambda d: d + bytes(512), "damaged"),
    "empty": (lambda d: b"", "damaged"),
    "not-compressed": (lambda d: gzip.decompress(d), "neither gzip nor zstd"),
    "compressed-non-tar": (
        lambda d: gzip.compress(random.Random(1).randbytes(50_000), mtime=0),
        "cannot extract",
    ),
}

ZSTD_CASES: dict[str, tuple[Damage, str]] = {
    "zst-truncated-third": (lambda d: d[: len(d) // 3], "damaged"),
    "zst-cut-checksum": (lambda d: d[:-2], "damaged"),
    "zst-flip-middle": (_flip(lambda n: n // 2), "damaged"),
    "zst-bad-checksum": (_flip(lambda n: n - 2), "damaged"),
    "zst-trailing-garbage": (lambda d: d + b"garbage after the end\n", "damaged"),
    "zst-non-tar": (lambda d: zstd_compress(random.Random(1).randbytes(50_000)), "cannot extract"),
}


def good_archive(env: Env, compression: str) -> Path:
    members = [*standard_members(), file("lib/payload.txt", _payload())]
    suffix = "tar.zst" if compression == "zst" else "tar.gz"
    return write_archive(env.tmp / f"good.{suffix}", members, compression)


def assert_good_archive_runs(env: Env, good: Path) -> None:
    result = env.run(
        good, "sh", "-c", 'echo "$PKG_TEST_VAR"; wc -c <"$CONDA_PREFIX/lib/payload.txt"'
    )
    expected = f"hello world\n{len(_payload())}\n"
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert (result.returncode, lines) == (0, expected.splitlines()), result.stderr
    assert (env.prefix(good) / MARKER).is_file()


@pytest.mark.parametrize("case", [*GZIP_CASES, *ZSTD_CASES])
def test_damaged_archive_is_refused_then_the_good_one_runs(runner_env: Env, case: str) -> None:
    env = runner_env
    compression = "zst" if case.startswith("zst") else "gz"
    damage, needle = {**GZIP_CASES, **ZSTD_CASES}[case]
    good = good_archive(env, compression)
    damaged = env.tmp / f"damaged.{good.name.split('.', 1)[1]}"
    damaged.write_bytes(damage(good.read_bytes()))
    assert environment_id(damaged) != environment_id(good)

    assert_runner_error(env.run(damaged, "true"), needle, str(damaged))
    assert leftovers(env.cache) == []
    assert env.unpacks() == []

    assert_good_archive_runs(env, good)
    assert len(env.unpacks()) == 1


def test_a_directory_is_not_an_archive(env: Env) -> None:
    directory = env.tmp / "env.tar.gz"
    directory.mkdir()
    assert_runner_error(env.run(directory, "true"), str(directory))
    assert leftovers(env.cache) == []
    assert_good_archive_runs(env, good_archive(env, "gz"))


@pytest.mark.parametrize("kind", ["fifo", "symlink-to-fifo", "char-device", "symlink-to-dir"])
def test_an_archive_that_is_not_a_regular_file_is_refused_at_once(env: Env, kind: str) -> None:
    """A FIFO with no writer must not make a runner wait for one (env.run times out at 60 s)."""
    special = env.tmp / "special"
    if kind.endswith("fifo"):
        os.mkfifo(special)
    elif kind == "symlink-to-dir":
        special.mkdir()
    archive = env.tmp / "env.tar.gz"
    if kind == "char-device":
        archive.symlink_to("/dev/zero")
    elif kind.startswith("symlink"):
        archive.symlink_to(special)
    else:
        archive = special
    assert_runner_error(env.run(archive, "true"), str(archive))
    assert leftovers(env.cache) == []


def test_damaged_copy_after_the_good_archive_is_ready(env: Env) -> None:
    """The warm path of the good archive must not serve its damaged copy."""
    good = good_archive(env, "gz")
    assert_good_archive_runs(env, good)
    damaged = env.tmp / "copy.tar.gz"
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0x55
    damaged.write_bytes(bytes(data))
    assert_runner_error(env.run(damaged, "true"), "damaged")
    assert_good_archive_runs(env, good)
    assert len(env.unpacks()) == 1


def test_archive_replaced_in_place_is_hashed_again(env: Env) -> None:
    """Same path, same size, mtime put back: the record key still changes (ctime)."""
    # Stored (level 0): the same size whatever deflate would make of the two contents.
    first = write_archive(
        env.tmp / "a.tar.gz", [*standard_members(), file("lib/v", "AAAA\n")], level=0
    )
    second = write_archive(
        env.tmp / "b.tar.gz", [*standard_members(), file("lib/v", "BBBB\n")], level=0
    )
    runner = env.runner
    if runner == "env.sh":  # replace the self-extracting file itself; run it with dash
        first, second = env.self_extracting(first), env.self_extracting(second)
        runner = "dash"
    assert first.stat().st_size == second.stat().st_size
    archive = env.tmp / "env.tar.gz"
    shutil.copyfile(first, archive)
    show = ("sh", "-c", 'cat "$CONDA_PREFIX/lib/v"')
    assert env.run(archive, *show, runner=runner).stdout == "AAAA\n"
    before = archive.stat()
    with open(archive, "r+b") as stream:  # in place: same inode
        stream.write(second.read_bytes())
    os.utime(archive, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert archive.stat().st_ino == before.st_ino
    result = env.run(archive, *show, runner=runner)
    assert (result.returncode, result.stdout) == (0, "BBBB\n"), result.stderr


def test_damage_inside_a_valid_stream_is_caught_by_tar(env: Env) -> None:
    """A tar stream cut short inside an intact gzip stream (made so on purpose)."""
    raw = tar_bytes(standard_members())
    damaged = env.tmp / "env.tar.gz"
    damaged.write_bytes(gzip.compress(raw[: len(raw) // 2 + 100], mtime=0))
    assert_runner_error(env.run(damaged, "true"), "cannot extract")
    assert leftovers(env.cache) == []
