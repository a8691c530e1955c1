"""Crash safety: a runner killed at any point of its cold path (SIGKILL, SIGTERM, SIGINT)
leaves no process writing into the cache once the next run starts and no work directory
after it, and the run right after the kill succeeds. A signal the runner sees during its cold
path is reported as 128+signal.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .layered import code_members, layered, write_layered
from .test_conformance import Env, file, standard_members

KILL_POINTS = 20
SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)


def processes_using(directory: Path) -> list[str]:
    """Processes (other than this one) with their cwd or an open file under ``directory``."""
    found = []
    prefix = str(directory) + "/"
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            links = [os.readlink(f"/proc/{pid}/cwd")]
            links += [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        if any(link.startswith(prefix) for link in links):
            found.append(pid)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("runner", ["python", "dash"])
@pytest.mark.parametrize("kind", ["legacy", "layered"])
def test_kill_at_twenty_points_then_rerun(tmp_path: Path, runner: str, kind: str) -> None:
    env = Env(tmp_path, runner)
    members = [*standard_members(), file("lib/a", os.urandom(3_000_000)),
               file("lib/b", os.urandom(3_000_000))]  # fmt: skip
    if kind == "legacy":
        archive = env.archive(members)
        command = ["sh", "-c", 'test -f "$CONDA_PREFIX/.pkgtool-ready" && echo done']
    else:
        code = [*code_members("1"), file("pkgtool-code/blob", os.urandom(1_000_000))]
        archive = write_layered(env.tmp / "env.tar.gz", layered(members, code))
        command = ["sh", "-c", 'test -f "$CONDA_PREFIX/.pkgtool-ready" && '
                   'test -f "$PKG_CODE_DIR/../.pkgtool-ready" && echo done']  # fmt: skip
    environ = env.environ(PKG_TEST_UNPACK_SLEEP="0.3")
    started = time.monotonic()
    first = subprocess.run(env.argv(archive, command), env=environ, capture_output=True)
    full = time.monotonic() - started
    assert first.returncode == 0, first.stderr
    outcomes: list[str] = []
    for point in range(KILL_POINTS):
        shutil.rmtree(env.cache)
        sig = SIGNALS[point % len(SIGNALS)]
        delay = full * (point + 0.5) / KILL_POINTS
        proc = subprocess.Popen(
            env.argv(archive, command), env=environ,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        time.sleep(delay)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        status = proc.returncode
        if status == 128 + sig:  # the runner saw it during its cold path and cleaned up
            assert b"stopped by SIG" in err, err
            outcomes.append("reported")
        elif status == -sig:  # SIGKILL, or a signal before the runner's handlers / to the command
            outcomes.append("killed")
        elif sig == signal.SIGINT and status == 1 and b"KeyboardInterrupt" in err:
            outcomes.append("interrupted before the cold path")  # while Python started up
        else:
            assert (status, out) == (0, b"done\n"), (point, sig, status, err)
            outcomes.append("finished")

        rerun = subprocess.run(env.argv(archive, command), env=environ, capture_output=True)

        assert (rerun.returncode, rerun.stdout) == (0, b"done\n"), (point, sig, rerun.stderr)
        assert [n for n in os.listdir(env.cache) if n.startswith(".work-")] == [], point
        assert processes_using(env.cache) == [], point
    # the points must really have hit the cold path, in both ways
    assert outcomes.count("reported") >= 3, outcomes
    assert outcomes.count("killed") >= 3, outcomes


@pytest.mark.parametrize("runner", ["python", "dash", "bash-posix"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signal_during_conda_unpack_exits_128_plus_signal(
    tmp_path: Path, runner: str, sig: int
) -> None:
    env = Env(tmp_path, runner)
    archive = env.archive()
    environ = env.environ(PKG_TEST_UNPACK_SLEEP="30")
    proc = subprocess.Popen(
        env.argv(archive, ["true"]), env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 20
    while not (env.prefix(archive) / "bin").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # conda-unpack is sleeping now
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig, err
    assert b"stopped by SIG" in err
    assert not env.prefix(archive).exists()
    assert [n for n in os.listdir(env.cache) if not n.endswith(".lock")] == []
    assert processes_using(env.cache) == []


@pytest.mark.slow
@pytest.mark.parametrize("runner", ["python", "dash"])
def test_kill_during_a_code_only_change_then_rerun(tmp_path: Path, runner: str) -> None:
    """The environment is ready; the new code layer's cold path is killed at several points:
    the environment is never touched and the rerun installs the code layer."""
    env = Env(tmp_path, runner)
    members = [*standard_members(), file("lib/a", os.urandom(2_000_000))]
    old = write_layered(env.tmp / "old.tar.gz", layered(members, code_members("1")))
    code = [*code_members("2"), file("pkgtool-code/blob", os.urandom(4_000_000))]
    new = write_layered(env.tmp / "new.tar.gz", layered(members, code))
    assert subprocess.run(env.argv(old, ["true"]), env=env.environ()).returncode == 0
    (env_dir,) = [p for p in env.cache.iterdir() if (p / "bin").is_dir()]
    marker, inode = (env_dir / ".pkgtool-ready").stat(), env_dir.stat().st_ino
    command = ["sh", "-c", 'cat "$PKG_CODE_DIR/configs/run.yaml"']
    started = time.monotonic()
    assert subprocess.run(env.argv(new, command), env=env.environ()).returncode == 0
    full = time.monotonic() - started
    for point in range(8):
        # forget the new code layer: its record stays, so the run takes the cold path again
        for path in env.cache.iterdir():
            if path.is_dir() and (path / "pkgtool-code/blob").exists():
                shutil.rmtree(path)
        sig = SIGNALS[point % len(SIGNALS)]
        proc = subprocess.Popen(env.argv(new, command), env=env.environ(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        time.sleep(full * (point + 0.5) / 8)
        proc.send_signal(sig)
        proc.communicate(timeout=60)
        rerun = subprocess.run(env.argv(new, command), env=env.environ(), capture_output=True)
        assert (rerun.returncode, rerun.stdout) == (0, b"version: 2\n"), (point, rerun.stderr)
        assert [n for n in os.listdir(env.cache) if n.startswith(".work-")] == [], point
        assert processes_using(env.cache) == [], point
        assert (env_dir / ".pkgtool-ready").stat().st_mtime_ns == marker.st_mtime_ns
        assert env_dir.stat().st_ino == inode
    assert len(env.unpacks()) == 1


@pytest.mark.parametrize("runner", ["dash", "bash-posix"])
@pytest.mark.parametrize("kind", ["legacy", "layered"])
def test_kill_while_the_children_start_leaves_none_waiting(
    tmp_path: Path, runner: str, kind: str
) -> None:
    """SIGKILL of pkg-run.sh right when its hasher starts, before the children at the other
    ends of the fifos exist: no child may wait forever for them (it would hold the locks and
    make every later run wait for the lock timeout)."""
    env = Env(tmp_path, runner)
    members = [*standard_members(), file("lib/a", os.urandom(1_000_000))]
    if kind == "legacy":
        archive = env.archive(members)
    else:
        archive = write_layered(env.tmp / "env.tar.gz", layered(members, code_members("1")))
    fake = tmp_path / "fake-bin"
    fake.mkdir()
    real = shutil.which("openssl")
    if real is None:
        pytest.skip("no openssl on this machine: the hasher cannot be replaced by a killer")
    # the hasher reads a named fifo in the work directory (the probe of a known input reads
    # an anonymous pipe, "pipe:[...]"): then SIGKILL the runner, the outermost pkg-run.sh
    # process among the hasher's ancestors
    (fake / "openssl").write_text(
        f"#!/bin/sh\ncase $(readlink /proc/$$/fd/0) in\n/*)\n"
        f'  if [ ! -e "{tmp_path}/killed" ]; then\n'
        f'    : >"{tmp_path}/killed"; p=$PPID; top=\n'
        f'    while [ "$p" -gt 1 ]; do\n'
        f'      case $(tr "\\0" " " </proc/$p/cmdline) in *pkg-run.sh*) top=$p ;; esac\n'
        f'      p=$(cut -d " " -f 4 </proc/$p/stat)\n'
        f"    done\n"
        f'    kill -9 "$top"\n'
        f'  fi\n  ;;\nesac\nexec {real} "$@"\n'
    )
    (fake / "openssl").chmod(0o755)
    environ = env.environ(PATH=f"{fake}:{os.environ['PATH']}")
    first = subprocess.run(env.argv(archive, ["true"]), env=environ, capture_output=True,
                           timeout=60)  # fmt: skip
    assert first.returncode == -signal.SIGKILL, first.stderr
    deadline = time.monotonic() + 10
    while processes_using(env.cache) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_using(env.cache) == []
    rerun = subprocess.run(env.argv(archive, ["sh", "-c", "echo done"]), env=environ,
                           capture_output=True, timeout=60)  # fmt: skip
    assert (rerun.returncode, rerun.stdout) == (0, b"done\n"), rerun.stderr
    assert [n for n in os.listdir(env.cache) if n.startswith(".work-")] == []
