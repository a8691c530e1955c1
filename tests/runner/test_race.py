"""The race set: another user who may change a directory above the cache root never gets her
code run (issue 17, item 2).

She is a real second user (uid 65534, ``nobody``; the tests run as root). Her process keeps
exchanging the victim's cache root with her own directory (``renameat2(RENAME_EXCHANGE)``
through :mod:`ctypes`) while the victim runs the warm path, 1,000 times per entry point, in
one shell loop. Both runners refuse such a root up front (every directory above it must be
owned by the user or root, and writable by others only with the sticky bit), so each try is
a fast refusal and her ``bin/hello`` never runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_conformance import Env, assert_runner_error, file, standard_members

NOBODY = 65534
TRIES = 1000

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="needs root to play a second user")

# Her process: exchange <parent>/vcache and <parent>/evil until <parent>/../stop exists; print
# how many exchanges succeeded.
EXCHANGER = """\
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
a, b = (os.path.join(sys.argv[1], n).encode() for n in ("vcache", "evil"))
stop = os.path.join(os.path.dirname(sys.argv[1]), "stop")
done = 0
print("ready", flush=True)
while True:
    for _ in range(200):
        if libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0:
            done += 1
    if os.path.exists(stop):
        break
print(done, flush=True)
"""

# The victim's loop: N warm runs of the runner ("$@"), one status line after each (124: it
# hung for a minute).
VICTIM_LOOP = """\
n=$1
shift
i=0
while [ "$i" -lt "$n" ]; do
    timeout 60 "$@" 2>>"$PKG_TEST_ERRORS"
    echo "status $?"
    i=$((i + 1))
done
"""


def record_key(path: Path) -> str:
    info = path.stat()
    times = [divmod(ns, 1_000_000_000) for ns in (info.st_mtime_ns, info.st_ctime_ns)]
    stamps = [f"{s}.{ns:09d}" for s, ns in times]
    return "-".join([str(info.st_dev), str(info.st_ino), str(info.st_size), *stamps])


@pytest.fixture
def shared() -> Iterator[Path]:
    """A directory both users can reach (pytest's tmp_path is root's 0700)."""
    top = Path(tempfile.mkdtemp(prefix="pkgtool-race-"))
    top.chmod(0o755)
    try:
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _hers(path: Path) -> None:
    for directory, _dirs, files in os.walk(path):
        os.chown(directory, NOBODY, NOBODY)
        for name in files:
            os.chown(os.path.join(directory, name), NOBODY, NOBODY)


def _plant(evil: Path, archive: Path, source: Path) -> None:
    """Her directory: records for both files of the archive naming her environment, whose
    ``bin/hello`` says EVIL."""
    fake = "e" * 32
    (evil / fake / "bin").mkdir(parents=True)
    (evil / fake / ".pkgtool-ready").write_text(f"{fake}\n{archive}\n")
    hello = evil / fake / "bin" / "hello"
    hello.write_text("#!/bin/sh\necho EVIL\n")
    hello.chmod(0o755)
    for each in {archive, source}:
        (evil / f".key-{record_key(each)}").write_text(f"{fake}\n")
    evil.chmod(0o700)
    _hers(evil)


def _her_python() -> str:
    """A Python she may run (the test's own may sit under root's 0700 home)."""
    for candidate in ("/usr/bin/python3", sys.executable):
        probe = [candidate, "-c", "pass"]
        if subprocess.run(probe, user=NOBODY, capture_output=True, check=False).returncode == 0:
            return candidate
    pytest.skip("no Python that uid 65534 may run")


def _attack(env: Env, shared: Path, parent_kind: str, tries: int) -> tuple[dict[str, int], int]:
    members = [*standard_members(), file("bin/hello", "#!/bin/sh\necho good\n", 0o755)]
    archive = env.archive(members)
    source = env.self_extracting(archive) if env.runner == "env.sh" else archive
    safe = shared / "safe"
    safe.mkdir()
    prepare = env.argv(archive, ["hello"], options=["--cache-dir", str(safe / "vcache")])
    first = subprocess.run(prepare, capture_output=True, text=True, env=env.environ(), check=False)
    assert (first.returncode, first.stdout) == (0, "good\n"), first.stderr
    parent = shared / "project"
    parent.mkdir()
    os.rename(safe / "vcache", parent / "vcache")  # the victim's warm cache, in the open
    (parent / "evil").mkdir()
    _plant(parent / "evil", archive, source)
    if parent_kind == "others-writable":
        parent.chmod(0o777)  # a group-writable project directory, as others see it
    else:
        parent.chmod(0o755)
        os.chown(parent, NOBODY, NOBODY)
    her = subprocess.Popen(
        [_her_python(), "-c", EXCHANGER, str(parent)],
        stdout=subprocess.PIPE, text=True, user=NOBODY, group=NOBODY, extra_groups=[],
    )  # fmt: skip
    assert her.stdout is not None
    assert her.stdout.readline() == "ready\n"
    errors = env.tmp / "errors"
    argv = env.argv(archive, ["hello"], options=["--cache-dir", str(parent / "vcache")])
    try:
        victim = subprocess.run(
            ["sh", "-c", VICTIM_LOOP, "sh", str(tries), *argv],
            capture_output=True, text=True, env=env.environ(PKG_TEST_ERRORS=str(errors)),
            timeout=900, check=False,
        )  # fmt: skip
    finally:
        (shared / "stop").touch()
        exchanges = int(her.communicate(timeout=60)[0])
    counts: dict[str, int] = {}
    for line in victim.stdout.splitlines():
        counts[line] = counts.get(line, 0) + 1
    print(f"\n{env.runner} {parent_kind}: {tries} tries, {exchanges} exchanges, {counts}")
    if errors.exists():
        print("first message:", *errors.read_text().splitlines()[:2], sep="\n  ")
    return counts, exchanges


@pytest.mark.parametrize(("parent_kind", "tries"), [("others-writable", TRIES), ("hers", 200)])
def test_her_code_never_runs_when_she_swaps_the_cache_root(
    env: Env, shared: Path, parent_kind: str, tries: int
) -> None:
    counts, exchanges = _attack(env, shared, parent_kind, tries)
    assert "EVIL" not in counts, counts
    assert exchanges > 0  # she really was exchanging the root all along
    assert sum(v for k, v in counts.items() if k.startswith("status ")) == tries, counts
    assert counts.get("status 125") == tries, counts  # refused up front, every time


def _run_in(env: Env, root: Path) -> subprocess.CompletedProcess[str]:
    argv = env.argv(
        env.archive(), ["sh", "-c", 'echo "$CONDA_PREFIX"'], options=["--cache-dir", str(root)]
    )
    return subprocess.run(argv, capture_output=True, text=True, env=env.environ(), check=False)


@pytest.mark.parametrize("mode", [0o1777, 0o1770])
def test_root_under_a_sticky_shared_directory_works(env: Env, shared: Path, mode: int) -> None:
    # /tmp's case: others may write there, but only the owner may rename her entries
    (shared / "sticky").mkdir()
    (shared / "sticky").chmod(mode)
    result = _run_in(env, shared / "sticky" / "deeper" / "cache")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{shared}/sticky/deeper/cache/")


@pytest.mark.parametrize("problem", ["mode", "owner", "symlink-to-unsafe", "grandparent"])
def test_root_under_an_unsafe_directory_is_refused(env: Env, shared: Path, problem: str) -> None:
    unsafe = shared / "unsafe"
    unsafe.mkdir()
    if problem == "owner":
        os.chown(unsafe, NOBODY, NOBODY)
    else:
        unsafe.chmod(0o777)
    root = unsafe / "cache"
    if problem == "symlink-to-unsafe":
        (shared / "link").symlink_to(unsafe)
        root = shared / "link" / "cache"
    elif problem == "grandparent":
        (unsafe / "mine").mkdir(mode=0o700)
        root = unsafe / "mine" / "cache"
    result = _run_in(env, root)
    needle = "owned by uid 65534" if problem == "owner" else "writable by others"
    assert_runner_error(result, needle, str(unsafe))
    assert "PKG_CACHE_DIR" in result.stderr


def test_symlink_to_a_safe_directory_is_followed(env: Env, shared: Path) -> None:
    (shared / "real").mkdir()
    (shared / "link").symlink_to(shared / "real")
    result = _run_in(env, shared / "link" / "cache")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{shared}/real/cache/")  # the resolved path is used
