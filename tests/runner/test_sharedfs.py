"""The shared-filesystem set: a cache on a filesystem whose ``flock`` fails or does not
exclude (issue 17, item 7), played by an ``LD_PRELOAD`` shim compiled here with ``cc``:

- ``enosys``: ``flock()`` fails with ENOSYS, as on Lustre mounted ``noflock``: every runner
  exits 125 with one line naming the filesystem problem and the remedy (a node-local
  ``PKG_CACHE_DIR``), on the cold path and on the warm one;
- ``noop``: ``flock()`` succeeds without locking, as two nodes whose locks do not see each
  other: concurrent runs on one cache must still each run the right environment, never hang
  and never print a misleading message.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess

import pytest

from .layered import code_members, layered, write_layered
from .test_conformance import Env, assert_runner_error, can_mount, file, standard_members

SHIMS = {
    "enosys": "#include <errno.h>\nint flock(int fd, int op) { (void)fd; (void)op; "
    "errno = ENOSYS; return -1; }\n",
    "noop": "int flock(int fd, int op) { (void)fd; (void)op; return 0; }\n",
}


@pytest.fixture(scope="session")
def shims(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build the flock shims (apt-get install gcc libc6-dev)")
    where = tmp_path_factory.mktemp("flock-shims")
    built = {}
    for name, source in SHIMS.items():
        (where / f"{name}.c").write_text(source)
        target = where / f"{name}.so"
        subprocess.run(
            [compiler, "-shared", "-fPIC", "-o", str(target), str(where / f"{name}.c")],
            check=True,
        )
        built[name] = str(target)
    return built


@pytest.mark.parametrize("path", ["cold", "warm"])
def test_flock_that_fails_is_one_line_naming_the_filesystem(
    env: Env, shims: dict[str, str], path: str
) -> None:
    archive = env.archive()
    if path == "warm":
        assert env.run(archive, "true").returncode == 0
    result = env.run(archive, "true", LD_PRELOAD=shims["enosys"])
    assert_runner_error(result, "does not support flock", str(env.cache))
    assert "PKG_CACHE_DIR" in result.stderr
    assert "Traceback" not in result.stderr and "timed out" not in result.stderr


RUNS = 20


@pytest.mark.parametrize("kind", ["legacy", "layered"])
def test_locks_that_do_not_exclude_never_give_a_wrong_environment(
    env: Env, shims: dict[str, str], kind: str
) -> None:
    members = [*standard_members(), file("which", "this one\n")]
    if kind == "legacy":
        archive = env.archive(members)
        expected = "this one\n"
    else:
        archive = write_layered(env.tmp / "env.tar.gz", layered(members, code_members("7")))
        expected = "this one\nVERSION = '7'\n"
    script = 'cat "$CONDA_PREFIX/which"; test -z "${PKG_CODE_DIR-}" || cat "$PKG_CODE_DIR/mymod.py"'
    argv = env.argv(archive, ["sh", "-c", script])
    # conda-unpack sleeps: the window in which a prefix exists without its marker is wide
    environ = env.environ(LD_PRELOAD=shims["noop"], PKG_TEST_UNPACK_SLEEP="0.3")
    runs = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=environ)
        for _ in range(RUNS)
    ]  # fmt: skip
    outcomes = [run.communicate(timeout=300) for run in runs]
    statuses = [run.returncode for run in runs]
    print(f"\n{env.runner} {kind}: statuses {sorted(statuses)}")
    for (out, err), status in zip(outcomes, statuses, strict=True):
        assert (status, out) == (0, expected), err
    assert len(env.unpacks()) == 1  # one run installed it; no prefix was replaced
    again = subprocess.run(argv, capture_output=True, text=True, env=env.environ(), check=False)
    assert (again.returncode, again.stdout) == (0, expected), again.stderr
    assert [n for n in os.listdir(env.cache) if n.startswith((".work-", ".claim-"))] == []


def _in_namespace(env: Env, setup: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    script = f'{setup} && exec "$@"'
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", *argv],
        capture_output=True, text=True, env=env.environ(), timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.skipif(not can_mount(), reason="needs root and unshare -m to mount")
def test_read_only_cache_is_one_clean_line(env: Env) -> None:
    env.cache.mkdir(mode=0o700)
    root = shlex.quote(str(env.cache))
    setup = f"mount --bind {root} {root} && mount -o remount,bind,ro {root}"
    result = _in_namespace(env, setup, env.argv(env.archive(), ["true"]))
    assert_runner_error(result, str(env.cache))
    assert len(result.stderr.splitlines()) == 2, result.stderr  # no shell noise before it


@pytest.mark.skipif(not can_mount(), reason="needs root and unshare -m to mount")
def test_full_cache_is_one_clean_line(env: Env) -> None:
    env.cache.mkdir(mode=0o700)
    archive = env.archive([*standard_members(), file("blob", os.urandom(300_000))])
    setup = f"mount -t tmpfs -o size=200k,mode=0700 tmpfs {shlex.quote(str(env.cache))}"
    result = _in_namespace(env, setup, env.argv(archive, ["true"]))
    assert_runner_error(result, "No space left on device")
    assert len(result.stderr.splitlines()) == 2, result.stderr


@pytest.mark.skipif(os.getuid() != 0, reason="only root can give a directory away")
def test_root_made_by_another_user_names_the_way_forward(env: Env) -> None:
    env.cache.mkdir(mode=0o700)
    os.chown(env.cache, 65534, 65534)
    result = env.run(env.archive(), "true")
    assert_runner_error(result, "owned by uid 65534")
    hint = [line for line in result.stderr.splitlines() if "hint: " in line]
    assert "another user made it" in hint[0] and "PKG_CACHE_DIR" in hint[0], result.stderr
