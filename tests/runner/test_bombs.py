"""The bomb set: archives that expand to far more than they weigh (issue 17, item 5).

Every runner refuses them as damaged (125) with nothing left in the cache, writing at most
its documented ceiling (``64 MiB + 32 x`` the compressed size of the layer) and holding
only a bounded buffer: the peak RSS of the runner and its children, measured in a fresh
child (``RUSAGE_CHILDREN``), stays under 100 MB. The bombs are crafted, not compressed:
zstd frames of RLE blocks (4 bytes for each 128 KiB of zeros) and gzip members of 1 MiB of
zeros, so building one costs milliseconds.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from .layered import layered, members_bytes
from .test_conformance import Env, Member, assert_runner_error, leftovers, standard_members

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BLOCK = 128 << 10  # the largest zstd block
RSS_LIMIT_KB = 100_000

MEASURE = """\
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stderr.write(done.stderr)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _block_header(last: bool, kind: int, size: int) -> bytes:
    return (int(last) | kind << 1 | size << 3).to_bytes(3, "little")


def rle_zstd_frame(head: bytes, zero_blocks: int) -> bytes:
    """One zstd frame (128 KiB window, no checksum, no content size): ``head`` in a raw
    block, then ``zero_blocks`` RLE blocks of 128 KiB of zeros each."""
    out = bytearray(ZSTD_MAGIC + bytes([0x00, (17 - 10) << 3]))
    if head:
        out += _block_header(zero_blocks == 0, 0, len(head)) + head
    for n in range(zero_blocks):
        out += _block_header(n == zero_blocks - 1, 1, BLOCK) + b"\0"
    return bytes(out)


def big_file_header(size: int) -> bytes:
    info = tarfile.TarInfo("big")
    info.size = size
    info.mtime = 1_700_000_000
    return info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")


def zst_env_bomb() -> bytes:
    """A 131 KB layered .tar.zst whose env layer is one RLE frame of 4 GiB."""
    blocks = 32768
    env = rle_zstd_frame(big_file_header(blocks * BLOCK), blocks)
    return layered(standard_members(), None, "zst", raw={"env": env}).data


def zst_end_bomb() -> bytes:
    """A 64 KB layered .tar.zst whose end layer is one RLE frame of 2 GiB of zeros."""
    return layered(standard_members(), None, "zst", raw={"end": rle_zstd_frame(b"", 16000)}).data


def gz_legacy_bomb() -> bytes:
    """A 2 MB legacy .tar.gz holding one file of 2 GiB of zeros (2048 members of 1 MiB)."""
    mib = 1 << 20
    zeros = gzip.compress(bytes(mib), compresslevel=9, mtime=0)
    head = gzip.compress(big_file_header(2048 * mib), mtime=0)
    return head + zeros * 2048 + gzip.compress(bytes(1024), mtime=0)


BOMBS = {"zst-env": zst_env_bomb, "zst-end": zst_end_bomb, "gz-legacy": gz_legacy_bomb}


def measured(env: Env, archive: Path) -> tuple[int, int, str]:
    """(exit status, peak RSS in KiB of the runner and its children, stderr)."""
    argv = env.argv(archive, ["true"])
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True,
        env=env.environ(), timeout=300, check=False,
    )  # fmt: skip
    status, rss = (int(field) for field in done.stdout.split())
    return status, rss, done.stderr


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_bomb_is_damaged_bounded_and_leaves_nothing(env: Env, bomb: str) -> None:
    name = "bomb.tar.gz" if bomb.startswith("gz") else "bomb.tar.zst"
    archive = env.tmp / name
    archive.write_bytes(BOMBS[bomb]())

    status, rss, stderr = measured(env, archive)

    print(f"\n{env.runner} {bomb} ({archive.stat().st_size} bytes): exit {status}, {rss} KiB")
    assert status == 125, stderr
    errors = [line for line in stderr.splitlines() if "error: " in line]
    assert len(errors) == 1 and "damaged" in errors[0], stderr
    assert rss < RSS_LIMIT_KB, f"peak RSS {rss} KiB"
    assert leftovers(env.cache) == []
    ok = env.run(env.archive(), "true")
    assert ok.returncode == 0, ok.stderr


def test_expansion_ceiling_leaves_ordinary_archives_alone(env: Env) -> None:
    # 32 MiB of zeros in 32 KB: over 32 times the compressed size, under the 64 MiB floor
    members = standard_members()
    archive = env.tmp / "zeros.tar.gz"
    archive.write_bytes(gzip.compress(_tar_with_zeros(members, 32 << 20), mtime=0))
    result = env.run(archive, "sh", "-c", 'wc -c <"$CONDA_PREFIX/big"')
    assert (result.returncode, result.stdout.strip()) == (0, str(32 << 20)), result.stderr
    assert_runner_error(env.run(env.tmp / "missing.tar.gz", "true"), "missing.tar.gz")


def _tar_with_zeros(members: Sequence[Member], size: int) -> bytes:
    return members_bytes(members) + big_file_header(size) + bytes(size) + bytes(1024)
