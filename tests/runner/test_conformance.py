"""One conformance suite for every runner: ``pkg run``, ``python -m pkgtool.runner``,
``pkg-run.sh`` under ``dash`` and ``bash --posix``, and a self-extracting ``env.sh`` (the sh
runner with the archive appended, run through its ``#!/bin/sh`` line).

Archives are synthetic but real: tar streams written with :mod:`tarfile`, compressed with
gzip or zstd, extracted by the runners into a cache under ``tmp_path``, with a
``bin/conda-unpack`` that appends one line per run to the file named by ``$PKG_TEST_LOG``
(prefix, first PATH entry, PYTHONPATH). The damaged, hostile, crash and cache sets live in
the sibling modules and reuse these helpers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import io
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from pkgtool.runner import MARKER, environment_id, runner_script, write_self_extracting

SRC = Path(__file__).resolve().parents[2] / "src"
SCRIPT = runner_script()

RUNNERS: dict[str, tuple[str, ...]] = {
    "pkg-run": (sys.executable, "-m", "pkgtool", "run"),
    "python": (sys.executable, "-m", "pkgtool.runner"),
    "dash": (shutil.which("dash") or "/bin/sh", str(SCRIPT)),
    "bash-posix": (shutil.which("bash") or "bash", "--posix", str(SCRIPT)),
    "env.sh": (),  # the archive itself, made self-extracting: ./env.sh COMMAND
}
SH_RUNNERS = ("dash", "bash-posix", "env.sh")

CONDA_UNPACK = """\
import os, sys, time
prefix = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
time.sleep(float(os.environ.get("PKG_TEST_UNPACK_SLEEP", "0")))
if os.path.exists(os.path.join(prefix, "fail-unpack")):
    sys.exit(3)
first_path = os.environ["PATH"].split(os.pathsep)[0]
with open(os.environ["PKG_TEST_LOG"], "a") as log:
    log.write(f"{prefix}\\t{first_path}\\t{os.environ.get('PYTHONPATH', '-')}\\n")
"""


def host_subdir() -> str:
    machine = os.uname().machine
    return {"x86_64": "linux-64", "aarch64": "linux-aarch64"}.get(machine, "noarch")


# ---------------------------------------------------------------- archives


@dataclasses.dataclass(frozen=True)
class Member:
    info: tarfile.TarInfo
    data: bytes | None = None


def _info(name: str, kind: bytes, mode: int = 0o755) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = 1_700_000_000
    return info


def file(name: str, data: str | bytes, mode: int = 0o644) -> Member:
    raw = data.encode() if isinstance(data, str) else data
    info = _info(name, tarfile.REGTYPE, mode)
    info.size = len(raw)
    return Member(info, raw)


def directory(name: str) -> Member:
    return Member(_info(name, tarfile.DIRTYPE))


def symlink(name: str, target: str) -> Member:
    info = _info(name, tarfile.SYMTYPE, 0o777)
    info.linkname = target
    return Member(info)


def hardlink(name: str, target: str) -> Member:
    info = _info(name, tarfile.LNKTYPE, 0o644)
    info.linkname = target
    return Member(info)


def special(name: str, kind: bytes) -> Member:
    info = _info(name, kind, 0o644)
    info.devmajor, info.devminor = 1, 3
    return Member(info)


def manifest(platform: str, glibc: str | None) -> Member:
    data = {"format": 1, "platform": platform, "glibc": glibc, "lock": {"platform": "win-64"}}
    return file(".pkgtool/manifest.json", json.dumps(data, indent=2) + "\n")


def standard_members(*, activate_d: bool = True) -> list[Member]:
    python = f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n'
    members = [
        directory("bin"),
        file("bin/python", python, 0o755),
        file("bin/conda-unpack", CONDA_UNPACK, 0o755),
        symlink("bin/python3", "python"),
        file("bin/notexec", "#!/bin/sh\necho never\n", 0o644),
        directory("lib"),
        file("lib/libdata.so.1", "data\n"),
        symlink("lib/libdata.so", "libdata.so.1"),
        hardlink("lib/hard", "lib/libdata.so.1"),
        directory("share"),
        symlink("share/data", "../lib/libdata.so.1"),
        manifest(host_subdir(), "2.5"),
    ]
    if activate_d:
        members += [
            # a script that shifts and resets "$@" must not disturb the command
            file("etc/conda/activate.d/00-first.sh", 'set -- x y; shift\nPKG_TEST_ORDER="a"\n'),
            file(
                "etc/conda/activate.d/pkgtool-env.sh",
                "export PKG_TEST_VAR='hello world'\n"
                'export PKG_TEST_ORDER="${PKG_TEST_ORDER-}b"\n',
            ),
            file("etc/conda/activate.d/.hidden.sh", "export PKG_TEST_HIDDEN=1\n"),
            file("etc/conda/activate.d/README.txt", "not sourced\n"),
        ]
    return members


def tar_bytes(members: Sequence[Member]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for member in members:
            stream = io.BytesIO(member.data) if member.data is not None else None
            archive.addfile(member.info, stream)
    return buffer.getvalue()


def zstd_compress(data: bytes, frames: int = 1) -> bytes:
    """zstd frames with content checksums (``zstd --check``), ``frames`` of them."""
    step = max(1, -(-len(data) // frames))
    out = b""
    for start in range(0, max(len(data), 1), step):
        done = subprocess.run(
            ["zstd", "-q", "--check", "-c", "-3"],
            input=data[start : start + step],
            capture_output=True,
            check=True,
        )
        out += done.stdout
    return out


def write_archive(
    path: Path, members: Sequence[Member], compression: str = "gz", level: int = 9
) -> Path:
    """``compression``: ``gz`` (gzip at ``level``; 0 stores, so the size depends on the
    content's length alone), ``gz2`` (two gzip members), ``zst``, ``zst2`` (two frames), or
    a :mod:`tarfile` mode suffix (``bz2``, ``xz``, ``""`` for plain tar)."""
    import gzip

    raw = tar_bytes(members)
    if compression == "gz":
        data = gzip.compress(raw, compresslevel=level, mtime=0)
    elif compression == "gz2":
        half = len(raw) // 2
        data = gzip.compress(raw[:half], mtime=0) + gzip.compress(raw[half:], mtime=0)
    elif compression in ("zst", "zst2"):
        data = zstd_compress(raw, 2 if compression == "zst2" else 1)
    elif compression == "":
        data = raw
    else:
        with tarfile.open(path, f"w:{compression}") as archive:  # type: ignore[call-overload]
            for member in members:
                stream = io.BytesIO(member.data) if member.data is not None else None
                archive.addfile(member.info, stream)
        return path
    path.write_bytes(data)
    return path


def leftovers(cache: Path) -> list[str]:
    """Entries of the cache other than lock files: what a failed run must not leave."""
    if not cache.exists():
        return []
    return sorted(name for name in os.listdir(cache) if not name.endswith(".lock"))


# ---------------------------------------------------------------- running


@dataclasses.dataclass
class Env:
    """Paths of one test: the cache, the conda-unpack log, a place outside the cache."""

    tmp: Path
    runner: str
    path: str | None = None  # PATH of every run, when not the test process's own

    @property
    def cache(self) -> Path:
        return self.tmp / "cache"

    @property
    def log(self) -> Path:
        return self.tmp / "unpack.log"

    @property
    def outside(self) -> Path:
        return self.tmp / "outside"

    def archive(self, members: Sequence[Member] | None = None, name: str = "env.tar.gz") -> Path:
        return write_archive(self.tmp / name, standard_members() if members is None else members)

    def prefix(self, archive: Path) -> Path:
        return self.cache / environment_id(archive)

    def unpacks(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [line.split("\t") for line in self.log.read_text().splitlines()]

    def environ(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PKG_")}
        if self.path is not None:
            env["PATH"] = self.path
        env.update(PYTHONPATH=str(SRC), PKG_TEST_LOG=str(self.log), **extra)
        return env

    def self_extracting(self, archive: Path) -> Path:
        """``archive`` as an executable ``<name>.sh`` beside it (remade when it changed)."""
        dest = archive.with_name(archive.name + ".sh")
        if not dest.exists() or dest.stat().st_mtime_ns < archive.stat().st_mtime_ns:
            write_self_extracting(archive, dest)
        return dest

    def argv(
        self,
        archive: Path,
        command: Sequence[str],
        runner: str | None = None,
        options: Sequence[str] | None = None,
    ) -> list[str]:
        name = runner or self.runner
        extra = ["--cache-dir", str(self.cache)] if options is None else list(options)
        if name == "env.sh":
            if not archive.is_file():  # the runner's own error: a directory, a missing file
                return [*RUNNERS["dash"], *extra, str(archive), *command]
            return [str(self.self_extracting(archive)), *extra, *command]
        return [*RUNNERS[name], *extra, str(archive), *command]

    def run(
        self,
        archive: Path,
        *command: str,
        stdin: str = "",
        runner: str | None = None,
        **extra: str,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(archive, command, runner),
            input=stdin,
            capture_output=True,
            text=True,
            env=self.environ(**extra),
            timeout=60,
            check=False,
        )


def runner_available(runner: str) -> bool:
    return runner == "env.sh" or shutil.which(RUNNERS[runner][0]) is not None


SYSTEM_BIN = ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin")


def system_path(
    dest: Path, without: Sequence[str] = (), scripts: dict[str, str] | None = None
) -> str:
    """A PATH directory ``dest`` holding every system command but those named in ``without``,
    and the executable ``scripts`` (name -> text) in place of the system's."""
    dest.mkdir(parents=True)
    scripts = scripts or {}
    for directory in SYSTEM_BIN:
        if os.path.isdir(directory):
            for name in os.listdir(directory):
                if name not in without and name not in scripts and not (dest / name).exists():
                    (dest / name).symlink_to(os.path.join(directory, name))
    for name, text in scripts.items():
        (dest / name).write_text(text)
        (dest / name).chmod(0o755)
    return str(dest)


ZSTD_WITHOUT_ZLIB = f"""#!{sys.executable}
# zstd as built without zlib: gzip input is refused; anything else goes to the real zstd.
import os, subprocess, sys
head = b""
while len(head) < 2 and (chunk := os.read(0, 2 - len(head))):
    head += chunk
if head == b"\\x1f\\x8b":
    sys.exit("zstd: /*stdin*\\\\: unsupported format")
real = subprocess.Popen([{shutil.which("zstd")!r}, *sys.argv[1:]], stdin=subprocess.PIPE)
assert real.stdin is not None
real.stdin.write(head)
while chunk := os.read(0, 1 << 16):
    real.stdin.write(chunk)
real.stdin.close()
sys.exit(real.wait())
"""


def assert_runner_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 125, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith(("pkg-run: error: ", "error: "))]
    assert len(errors) == 1, result.stderr
    assert any(line.startswith(("pkg-run: hint: ", "hint: ")) for line in lines), result.stderr
    for needle in needles:
        assert needle in errors[0], result.stderr


# ---------------------------------------------------------------- cold and warm paths

SHOW = (
    'printf "%s|%s|%s|%s|%s|%s|%s|%s\\n" "$PKG_TEST_VAR" "$PKG_TEST_ORDER" "${PYTHONPATH-unset}" '
    '"${PYTHONHOME-unset}" "$CONDA_PREFIX" "$CONDA_DEFAULT_ENV" "$(command -v python)" '
    '"${PKG_TEST_HIDDEN-unset}"'
)


def test_cold_path_unpacks_once_then_warm_path_reuses(env: Env) -> None:
    archive = env.archive()
    prefix = env.prefix(archive)

    first = env.run(archive, "sh", "-c", SHOW, PYTHONHOME=sys.base_prefix)

    assert first.returncode == 0, first.stderr
    assert first.stdout == (
        f"hello world|ab|unset|unset|{prefix}|{prefix}|{prefix}/bin/python|unset\n"
    )
    assert env.unpacks() == [[str(prefix), f"{prefix}/bin", "-"]]
    source = env.self_extracting(archive) if env.runner == "env.sh" else archive
    assert (prefix / MARKER).read_text() == f"{prefix.name}\n{source}\n"
    assert (prefix / "share/data").read_text() == "data\n"
    assert os.stat(prefix / "lib/hard").st_ino == os.stat(prefix / "lib/libdata.so.1").st_ino
    assert leftovers(env.cache) == sorted([prefix.name, *key_records(env.cache)])
    assert len(key_records(env.cache)) == 1

    (prefix / "sentinel").write_text("kept\n")
    second = env.run(archive, "sh", "-c", 'cat "$CONDA_PREFIX/sentinel"')

    assert (second.returncode, second.stdout) == (0, "kept\n"), second.stderr
    assert len(env.unpacks()) == 1


def key_records(cache: Path) -> list[str]:
    return [n for n in os.listdir(cache) if n.startswith(".key-") and not n.endswith(".lock")]


def test_cache_root_is_private_directory(env: Env) -> None:
    archive = env.archive()
    result = env.run(archive, "true")
    assert result.returncode == 0, result.stderr
    assert env.cache.stat().st_mode & 0o777 == 0o700


def can_mount() -> bool:
    """Can this process make a private mount namespace and mount in it (root, unshare)?"""
    if os.getuid() != 0 or not shutil.which("unshare"):
        return False
    probe = ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def test_default_cache_root_is_per_user_under_tmp_not_tmpdir(env: Env) -> None:
    # a per-task TMPDIR (Work Queue, TaskVine) must not give every task its own cache
    archive = env.archive([*standard_members(), file("unique", os.urandom(16))])
    argv = env.argv(archive, ["sh", "-c", 'echo "$CONDA_PREFIX"'], options=[])
    environ = env.environ(TMPDIR=str(env.tmp / "task-sandbox"))
    root = Path(f"/tmp/pkgtool-{os.getuid()}")
    try:
        result = subprocess.run(argv, capture_output=True, text=True, env=environ, check=False)
        assert (result.returncode, result.stdout) == (0, f"{root / environment_id(archive)}\n")
        assert root.stat().st_mode & 0o777 == 0o700
    finally:
        shutil.rmtree(root / environment_id(archive), ignore_errors=True)
    assert not (env.tmp / "task-sandbox").exists()

    environ["PKG_CACHE_DIR"] = str(env.tmp / "from-env")
    result = subprocess.run(argv, capture_output=True, text=True, env=environ, check=False)
    assert result.stdout == f"{env.tmp / 'from-env' / environment_id(archive)}\n"


@pytest.mark.skipif(not can_mount(), reason="needs root and unshare -m to make /tmp read-only")
def test_default_cache_root_falls_back_to_tmpdir(env: Env) -> None:
    archive = env.archive()
    sandbox = env.tmp / "sandbox"
    sandbox.mkdir()
    # in a private mount namespace: /tmp read-only, a writable tmpfs as the task's TMPDIR
    setup = (
        "mount --bind /tmp /tmp && mount -o remount,bind,ro /tmp && "
        f'mount -t tmpfs -o size=8m tmpfs {shlex.quote(str(sandbox))} && exec "$@"'
    )
    argv = env.argv(archive, ["sh", "-c", 'echo "$CONDA_PREFIX"'], options=[])
    environ = {**env.environ(TMPDIR=str(sandbox)), "PKG_TEST_LOG": str(sandbox / "unpack.log")}
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", setup, "sh", *argv],
        capture_output=True,
        text=True,
        env=environ,
        check=False,
    )
    expected = sandbox / f"pkgtool-{os.getuid()}" / environment_id(archive)
    assert (result.returncode, result.stdout) == (0, f"{expected}\n"), result.stderr

    del environ["TMPDIR"]
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", setup, "sh", *argv],
        capture_output=True,
        text=True,
        env=environ,
        check=False,
    )
    assert_runner_error(result, "no cache directory")


@pytest.mark.skipif(not can_mount(), reason="needs root and unshare -m to make /tmp read-only")
@pytest.mark.parametrize("problem", ["mode", "owner", "symlink"])
def test_default_cache_root_is_checked_on_the_warm_path_too(env: Env, problem: str) -> None:
    """The default root, already there (the sh runner's one-process warm path finds it)."""
    archive = env.archive()
    sandbox = env.tmp / "sandbox"
    sandbox.mkdir()
    root = sandbox / f"pkgtool-{os.getuid()}"
    setup = (
        "mount --bind /tmp /tmp && mount -o remount,bind,ro /tmp && "
        f'mount -t tmpfs -o size=8m tmpfs {shlex.quote(str(sandbox))} && exec "$@"'
    )
    environ = {**env.environ(TMPDIR=str(sandbox)), "PKG_TEST_LOG": str(sandbox / "unpack.log")}
    argv = env.argv(archive, ["true"], options=[])
    spoil = {
        "mode": f"chmod 0777 {root}",
        "owner": f"chown 65534 {root}",
        "symlink": f"mv {root} {root}.real && ln -s {root}.real {root}",
    }[problem]
    script = f'"$@" && {spoil} && "$@"'  # the first run makes the root, the second meets it
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", setup, "sh", "sh", "-c", script, "sh", *argv],
        capture_output=True, text=True, env=environ, check=False,
    )  # fmt: skip
    needle = {"mode": "writable by others", "owner": "owned by uid 65534", "symlink": "symlink"}
    assert_runner_error(result, needle[problem], str(root))


@pytest.mark.skipif(not can_mount(), reason="needs root and unshare -m to hide /proc")
@pytest.mark.parametrize("root", ["default", "--cache-dir"])
def test_no_proc_on_the_node(env: Env, root: str) -> None:
    # the sh runner learns this user's uid from /proc/self in the stat it runs anyway; without
    # /proc it asks id -u, and the root's owner and mode are still checked
    archive = env.archive()
    sandbox = env.tmp / "sandbox"
    sandbox.mkdir()
    setup = (
        "mount -t tmpfs -o size=64k tmpfs /proc && mount --bind /tmp /tmp && "
        "mount -o remount,bind,ro /tmp && "
        f'mount -t tmpfs -o size=8m tmpfs {shlex.quote(str(sandbox))} && exec "$@"'
    )
    cache = sandbox / ("cache" if root == "--cache-dir" else f"pkgtool-{os.getuid()}")
    options = ["--cache-dir", str(cache)] if root == "--cache-dir" else []
    argv = env.argv(archive, ["sh", "-c", 'echo "$CONDA_PREFIX"'], options=options)
    script = f'"$@" && "$@" && chmod 0777 {cache} && "$@"'  # cold, warm, then a spoilt root
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", setup, "sh", "sh", "-c", script, "sh", *argv],
        capture_output=True, text=True, check=False,
        env={**env.environ(TMPDIR=str(sandbox)), "PKG_TEST_LOG": str(sandbox / "unpack.log")},
    )  # fmt: skip
    expected = f"{cache / environment_id(archive)}\n"
    assert result.stdout == expected * 2, result.stderr
    assert result.returncode == 125, result.stderr
    assert "writable by others" in result.stderr


# ---------------------------------------------------------------- the command's status and stdio


def test_exit_status_and_output_pass_through(env: Env) -> None:
    result = env.run(env.archive(), "sh", "-c", "echo out; echo err >&2; exit 7")
    assert (result.returncode, result.stdout, result.stderr) == (7, "out\n", "err\n")


def test_stdin_passes_through_on_the_cold_path(env: Env) -> None:
    result = env.run(env.archive(), "cat", stdin="line 1\nline 2\n")
    assert (result.returncode, result.stdout) == (0, "line 1\nline 2\n"), result.stderr


def test_arguments_pass_through_unchanged(env: Env) -> None:
    args = ["a b", "", "$HOME", "*", "-c", "--cache-dir", "'\"\\"]
    result = env.run(env.archive(), "python", "-c", "import sys; print(sys.argv[1:])", *args)
    assert result.stdout == f"{args}\n", result.stderr


@pytest.mark.parametrize("activate_d", [True, False], ids=["activate.d", "plain"])
def test_missing_command_exits_127(env: Env, activate_d: bool) -> None:
    archive = env.archive(standard_members(activate_d=activate_d))
    for command in ("pkgtool-no-such-command", "./no/such/file"):
        result = env.run(archive, command)
        assert result.returncode == 127, result.stderr
        assert f"command not found: {command}" in result.stderr


@pytest.mark.parametrize("activate_d", [True, False], ids=["activate.d", "plain"])
def test_non_executable_command_exits_126(env: Env, activate_d: bool) -> None:
    archive = env.archive(standard_members(activate_d=activate_d))
    result = env.run(archive, "notexec")
    assert result.returncode == 126, result.stderr
    assert "command not executable: notexec" in result.stderr


def test_sigterm_reaches_the_command(env: Env) -> None:
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(42))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    argv = env.argv(env.archive(), ["python", "-c", code])
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env.environ()) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        os.kill(proc.pid, signal.SIGTERM)  # the runner's pid is the command's: it exec'd
        assert proc.wait(timeout=10) == 42


# ---------------------------------------------------------------- the runner's own failures


def test_missing_archive_exits_125(env: Env) -> None:
    missing = env.tmp / "no-such-env.tar.gz"
    assert_runner_error(env.run(missing, "true"), str(missing))
    assert not env.cache.exists() or os.listdir(env.cache) == []


def test_bad_command_line_exits_125(env: Env) -> None:
    result = env.run(env.archive())
    assert_runner_error(result, "missing ARCHIVE or COMMAND")


def test_invalid_lock_timeout_exits_125(env: Env) -> None:
    assert_runner_error(env.run(env.archive(), "true", PKG_LOCK_TIMEOUT="soon"), "PKG_LOCK_TIMEOUT")


def test_truncated_archive_leaves_nothing(env: Env) -> None:
    archive = env.archive(
        [*standard_members(), file("lib/big", os.urandom(200_000))], name="full.tar.gz"
    )
    truncated = env.tmp / "env.tar.gz"
    truncated.write_bytes(archive.read_bytes()[:150_000])
    assert_runner_error(env.run(truncated, "true"), "damaged")
    assert leftovers(env.cache) == []


def test_failed_conda_unpack_leaves_no_ready_prefix(env: Env) -> None:
    archive = env.archive([*standard_members(), file("fail-unpack", "")])
    for _ in range(2):  # the second run is not fooled by anything the first left behind
        assert_runner_error(env.run(archive, "true"), "conda-unpack failed")
        assert not env.prefix(archive).exists()


def test_leftover_prefix_without_marker_is_redone(env: Env) -> None:
    archive = env.archive()
    prefix = env.prefix(archive)
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "python").write_text("half written")
    (prefix / "read-only").mkdir()
    (prefix / "read-only" / "junk").write_text("junk")
    (prefix / "read-only").chmod(0o555)
    env.cache.chmod(0o700)

    result = env.run(archive, "sh", "-c", 'ls "$CONDA_PREFIX"')

    assert result.returncode == 0, result.stderr
    assert "read-only" not in result.stdout
    assert len(env.unpacks()) == 1


def test_cache_dir_symlink_is_refused(env: Env) -> None:
    (env.tmp / "real").mkdir(mode=0o700)
    env.cache.symlink_to(env.tmp / "real")
    assert_runner_error(env.run(env.archive(), "true"), "symlink", str(env.cache))
    assert os.listdir(env.tmp / "real") == []


def test_cache_dir_writable_by_others_is_refused(env: Env) -> None:
    env.cache.mkdir()
    env.cache.chmod(0o777)
    assert_runner_error(env.run(env.archive(), "true"), "writable by others")


@pytest.mark.skipif(os.getuid() != 0, reason="only root can give a directory away")
def test_cache_dir_of_another_user_is_refused(env: Env) -> None:
    env.cache.mkdir(mode=0o700)
    os.chown(env.cache, 65534, 65534)
    assert_runner_error(env.run(env.archive(), "true"), "owned by uid 65534")


@pytest.mark.parametrize(
    ("platform", "glibc", "needle"),
    [
        ("osx-arm64", None, "is built for osx-arm64"),
        ("linux-s390x" if os.uname().machine != "s390x" else "linux-64", None, "is built for"),
        ("win-64", None, "is built for win-64"),
        ("noarch", "99.0", "needs glibc >= 99.0"),
    ],
)
def test_incompatible_node_is_refused(env: Env, platform: str, glibc: str, needle: str) -> None:
    if glibc and not os.confstr("CS_GNU_LIBC_VERSION"):
        pytest.skip("no glibc on this node")
    members = [m for m in standard_members() if m.info.name != ".pkgtool/manifest.json"]
    archive = env.archive([*members, manifest(platform, glibc)])
    assert_runner_error(env.run(archive, "true"), needle)
    assert not env.prefix(archive).exists()
    assert env.unpacks() == []


# ---------------------------------------------------------------- unsafe members


def forged(member: Member, owner: str) -> Member:
    """``member`` with owner and group names that look like a listing's ``name -> target``."""
    member.info.uname = member.info.gname = owner
    return member


def unsafe_cases(outside: Path) -> dict[str, tuple[list[Member], str]]:
    """Name -> (members appended to a good archive, text the error line must hold: the
    member's name, or the reason when either of two names may be reported first)."""
    up = "../../outside"  # from <tmp>/cache/<id> to <tmp>/outside
    return {
        "absolute": ([file(f"{outside}/absolute", "x")], f"{outside}/absolute"),
        "dotdot": ([file(f"{up}/dotdot", "x")], f"{up}/dotdot"),
        "dotdot-inner": ([file(f"lib/../{up}/inner", "x")], f"lib/../{up}/inner"),
        "symlink-escape": (
            [symlink("lib/escape", f"../{up}"), file("lib/escape/through", "x")],
            "lib/escape",
        ),
        "symlink-absolute": ([symlink("lib/abs", str(outside))], "lib/abs"),
        "symlink-inner-dotdot": ([symlink("share/odd", "../lib/../lib")], "share/odd"),
        "symlink-forged-uname": ([forged(symlink("x", "/etc"), "root x -> ok")], "'x'"),
        "symlink-forged-gname": (
            [forged(symlink("bin2", str(outside)), f"a bin2 -> {outside} b -> lib")],
            "bin2",
        ),
        "hardlink-escape": ([hardlink("lib/hl", f"{up}/target")], "lib/hl"),
        "hardlink-absolute": ([hardlink("lib/hla", f"{outside}/target")], "lib/hla"),
        "hardlink-to-symlink": (
            [hardlink("lib/hl", "lib/libdata.so")],
            "hard link to a symbolic link",
        ),
        "under-symlink": (
            [symlink("share/inner", "../lib"), file("share/inner/file", "x")],
            "share/inner/file",
        ),
        "fifo": ([special("lib/fifo", tarfile.FIFOTYPE)], "lib/fifo"),
        "char-device": ([special("lib/null", tarfile.CHRTYPE)], "lib/null"),
        "block-device": ([special("lib/blk", tarfile.BLKTYPE)], "lib/blk"),
        "marker": ([file(MARKER, "")], MARKER),
        "marker-dot": ([file(f"./{MARKER}", "")], f"./{MARKER}"),
        "marker-dir": ([file(f"{MARKER}/x", "")], f"{MARKER}/x"),
        "marker-symlink": ([symlink(MARKER, "bin")], MARKER),
    }


@pytest.mark.parametrize("case", list(unsafe_cases(Path("/x"))))
def test_unsafe_member_is_refused_and_nothing_is_left(runner_env: Env, case: str) -> None:
    env = runner_env
    (env.outside / "target").write_text("target\n")
    members, needle = unsafe_cases(env.outside)[case]
    archive = env.archive([*standard_members(), *members])

    result = env.run(archive, "true")

    assert_runner_error(result, needle, str(archive))
    assert leftovers(env.cache) == []
    assert os.listdir(env.outside) == ["target"]
    assert (env.outside / "target").read_text() == "target\n"
    assert env.unpacks() == []
    good = env.run(env.archive(name="good.tar.gz"), "sh", "-c", 'echo "$PKG_TEST_VAR"')
    assert (good.returncode, good.stdout) == (0, "hello world\n"), good.stderr


def test_setuid_setgid_sticky_bits_are_dropped(env: Env) -> None:
    # the rule: (mode & 0755) | 0600, and u+x for a directory or where any x bit was set
    sticky, closed = directory("share/sticky"), directory("share/closed")
    sticky.info.mode, closed.info.mode = 0o3777, 0o555
    members = [
        *standard_members(),
        file("bin/suid", "#!/bin/sh\necho suid\n", 0o6755),
        file("lib/writable", "w\n", 0o666),
        file("lib/group-only", "g\n", 0o070),
        file("lib/read-only", "r\n", 0o444),
        file("lib/plain", "p\n", 0o644),
        sticky,
        closed,
        file("share/closed/inside", "i\n", 0o600),
    ]
    archive = env.archive(members)
    result = env.run(archive, "suid")
    assert (result.returncode, result.stdout) == (0, "suid\n"), result.stderr
    prefix = env.prefix(archive)
    expected = {
        "bin/suid": 0o755,
        "lib/writable": 0o644,
        "lib/group-only": 0o750,
        "lib/read-only": 0o644,
        "lib/plain": 0o644,
        "share/sticky": 0o755,
        "share/closed": 0o755,
        "share/closed/inside": 0o600,
    }
    assert {name: (prefix / name).stat().st_mode & 0o7777 for name in expected} == expected


# ---------------------------------------------------------------- archive formats

FORMATS = {
    "tar.gz": "gz",
    "tar.gz-multi-member": "gz2",
    "tar.zst": "zst",
    "tar.zst-multi-frame": "zst2",
}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_archive_format_pkg_create_offers(env: Env, fmt: str) -> None:
    archive = write_archive(env.tmp / f"env.{fmt}", standard_members(), FORMATS[fmt])
    result = env.run(archive, "sh", "-c", 'echo "$PKG_TEST_VAR"')
    assert (result.returncode, result.stdout) == (0, "hello world\n"), result.stderr
    assert env.prefix(archive).name == environment_id(archive)


@pytest.mark.parametrize("compression", ["gz", "zst"])
def test_a_layer_appended_as_its_own_member_or_frame_is_extracted(
    env: Env, compression: str
) -> None:
    """Two complete tar streams, each in its own gzip member or zstd frame (a code layer)."""
    import gzip

    layer = tar_bytes([file("lib/layer.txt", "from the appended layer\n")])
    base = tar_bytes(standard_members())
    if compression == "gz":
        data = gzip.compress(base, mtime=0) + gzip.compress(layer, mtime=0)
    else:
        data = zstd_compress(base) + zstd_compress(layer)
    archive = env.tmp / f"env.tar.{compression}"
    archive.write_bytes(data)
    result = env.run(archive, "sh", "-c", 'cat "$CONDA_PREFIX/lib/layer.txt"')
    assert (result.returncode, result.stdout) == (0, "from the appended layer\n"), result.stderr


@pytest.mark.parametrize("compression", ["gz2", "zst2"])
def test_a_member_ending_inside_a_long_run_of_output(env: Env, compression: str) -> None:
    """32 MiB of zeros compress to a few kB: one read of the archive holds the end of the
    first member (frame) and the next, while the output is made in capped pieces. (The
    Python runner once looped forever there, growing its memory.)"""
    members = [file("share/zeros", bytes(32 << 20)), *standard_members()]
    archive = write_archive(env.tmp / f"env.{compression}", members, compression)
    assert archive.stat().st_size < 1 << 20
    result = subprocess.run(
        env.argv(archive, ["sh", "-c", 'wc -c <"$CONDA_PREFIX/share/zeros"']),
        capture_output=True, text=True, env=env.environ(), timeout=60, check=False,
    )  # fmt: skip
    assert (result.returncode, result.stdout.strip()) == (0, str(32 << 20)), result.stderr


@pytest.mark.parametrize("compression", ["bz2", "xz", ""], ids=["tar.bz2", "tar.xz", "tar"])
def test_formats_pkg_create_does_not_offer_are_refused(env: Env, compression: str) -> None:
    archive = write_archive(env.tmp / "env.tar.gz", standard_members(), compression)
    assert_runner_error(env.run(archive, "true"), "neither gzip nor zstd")
    assert leftovers(env.cache) == []


def test_self_extracting_archive_shares_the_plain_archives_environment(tmp_path: Path) -> None:
    env = Env(tmp_path, "dash")
    archive = env.archive()
    selfx = env.self_extracting(archive)
    assert selfx.read_bytes().startswith(b"#!/bin/sh\n")
    assert selfx.read_bytes().endswith(archive.read_bytes())
    assert os.access(selfx, os.X_OK)
    show = ["sh", "-c", 'echo "$CONDA_PREFIX"']
    first = subprocess.run(
        [str(selfx), "--cache-dir", str(env.cache), *show],
        capture_output=True, text=True, env=env.environ(), check=False,
    )  # fmt: skip
    expected = f"{env.cache / environment_id(archive)}\n"
    assert (first.returncode, first.stdout) == (0, expected), first.stderr
    for runner in ("python", "dash", "pkg-run"):  # the plain archive: warm, same prefix
        again = env.run(archive, *show, runner=runner)
        assert (again.returncode, again.stdout) == (0, expected), again.stderr
    for runner in ("pkg-run", "dash"):  # both runners accept env.sh as ARCHIVE too
        shutil.rmtree(env.cache)
        given = env.run(selfx, *show, runner=runner)
        assert (given.returncode, given.stdout) == (0, expected), given.stderr
    assert len(env.unpacks()) == 3


# ---------------------------------------------------------------- one protocol, one cache


@pytest.mark.parametrize("padding", [0, 100_000, 300_000])
def test_every_runner_computes_the_same_id(tmp_path: Path, padding: int) -> None:
    env = Env(tmp_path, "python")
    archive = env.archive([*standard_members(), file("lib/pad", os.urandom(padding))])
    prefixes = {
        runner: env.run(archive, "sh", "-c", 'echo "$CONDA_PREFIX"', runner=runner).stdout
        for runner in RUNNERS
        if runner_available(runner)
    }
    assert set(prefixes.values()) == {f"{env.cache / environment_id(archive)}\n"}
    assert len(env.unpacks()) == 1


@contextlib.contextmanager
def hold_lock(path: Path, operation: int = fcntl.LOCK_EX) -> Iterator[None]:
    """Hold ``flock(2)`` on ``path`` from this process, as another run would."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(path, "a") as stream:
        fcntl.flock(stream, operation)
        yield


def test_lock_timeout_exits_125(env: Env) -> None:
    archive = env.archive()
    lock = env.cache / f"{environment_id(archive)}.lock"
    with hold_lock(lock):
        started = time.monotonic()
        result = env.run(archive, "true", PKG_LOCK_TIMEOUT="1")
        elapsed = time.monotonic() - started
    assert_runner_error(result, "timed out", str(lock))
    assert 0.9 < elapsed < 20
    assert not env.prefix(archive).exists()
    assert leftovers(env.cache) == []


def test_warm_path_shares_the_lock_with_running_commands(env: Env) -> None:
    archive = env.archive()
    assert env.run(archive, "true").returncode == 0
    lock = env.cache / f"{environment_id(archive)}.lock"
    with hold_lock(lock, fcntl.LOCK_SH):  # a command running in the environment
        result = env.run(archive, "sh", "-c", "echo warm", PKG_LOCK_TIMEOUT="0")
    assert (result.returncode, result.stdout) == (0, "warm\n"), result.stderr
    with hold_lock(lock):  # pkg cache prune removing it: wait, then give up
        blocked = env.run(archive, "true", PKG_LOCK_TIMEOUT="0.5")
    assert_runner_error(blocked, "timed out")
    assert len(env.unpacks()) == 1


def test_the_command_holds_a_shared_lock(env: Env) -> None:
    archive = env.archive()
    lock = env.cache / f"{environment_id(archive)}.lock"
    code = (
        "import fcntl, sys\n"
        "with open(sys.argv[1]) as f:\n"
        "    try:\n"
        "        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "    except BlockingIOError:\n"
        "        print('held')\n"
    )
    for _ in ("cold", "warm"):
        result = env.run(archive, "python", "-c", code, str(lock))
        assert (result.returncode, result.stdout) == (0, "held\n"), result.stderr


def run_concurrently(env: Env, archive: Path, runners: Sequence[str], **extra: str) -> list[int]:
    environ = env.environ(PKG_TEST_UNPACK_SLEEP="0.5", **extra)
    command = ["sh", "-c", 'test -f "$CONDA_PREFIX/.pkgtool-ready" && echo ok']
    procs = [
        subprocess.Popen(env.argv(archive, command, runner), env=environ, stdout=subprocess.PIPE)
        for runner in runners
    ]
    outputs = [proc.communicate(timeout=60)[0] for proc in procs]
    assert outputs == [b"ok\n"] * len(runners)
    return [proc.returncode for proc in procs]


def test_concurrent_cold_runs_extract_once(env: Env) -> None:
    archive = env.archive()
    assert run_concurrently(env, archive, [env.runner] * 4) == [0] * 4
    assert len(env.unpacks()) == 1
    assert leftovers(env.cache) == sorted([env.prefix(archive).name, *key_records(env.cache)])


def test_runners_exclude_each_other(tmp_path: Path) -> None:
    env = Env(tmp_path, "python")
    archive = env.archive()
    runners = ["python", "dash", "env.sh", "bash-posix", "pkg-run", "dash"]
    assert run_concurrently(env, archive, runners) == [0] * len(runners)
    assert len(env.unpacks()) == 1


# ---------------------------------------------------------------- command line


def test_option_forms(env: Env) -> None:
    archive = env.archive()
    options = [f"--cache-dir={env.cache}", "--"]
    argv = env.argv(archive, ["pwd"], options=options)
    result = subprocess.run(argv, capture_output=True, text=True, env=env.environ(), check=False)
    assert (result.returncode, result.stdout) == (0, f"{os.getcwd()}\n"), result.stderr
    assert env.prefix(archive).is_dir()


def test_double_dash_before_the_command_is_not_the_command(env: Env) -> None:
    result = env.run(env.archive(), "--", "sh", "-c", "echo ran")
    assert (result.returncode, result.stdout) == (0, "ran\n"), result.stderr
    assert_runner_error(env.run(env.archive(), "--"), "COMMAND")


def test_awkward_archive_paths(env: Env) -> None:
    """A colon (GNU tar's host:file) and a leading dash (an option) in relative paths."""
    archive = env.archive()
    (env.tmp / "run:1").mkdir()
    shutil.copy(archive, env.tmp / "run:1" / "env.tar.gz")
    shutil.copy(archive, env.tmp / "-env.tar.gz")
    for relative in ("run:1/env.tar.gz", "-env.tar.gz"):
        shutil.rmtree(env.cache, ignore_errors=True)
        if env.runner == "env.sh":
            selfx = env.self_extracting(env.tmp / relative)
            argv = [str(selfx), "--cache-dir", str(env.cache), "pwd"]
        else:
            argv = [*RUNNERS[env.runner], "--cache-dir", str(env.cache), "--", relative, "pwd"]
        result = subprocess.run(
            argv, cwd=env.tmp, capture_output=True, text=True, env=env.environ(), check=False
        )
        assert (result.returncode, result.stdout) == (0, f"{env.tmp}\n"), result.stderr


def test_option_variables_do_not_reach_the_unpacking_children(env: Env) -> None:
    """TAR_OPTIONS=--to-stdout would make tar print the files instead of writing them, and
    GZIP=-f would let gzip pass data through unchecked: the cold path's children never see
    them, and the command gets them back unchanged."""
    archive = env.archive()
    show = 'printf "%s|%s\\n" "$TAR_OPTIONS" "$GZIP"'
    result = env.run(archive, "sh", "-c", show, TAR_OPTIONS="--to-stdout", GZIP="-f")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "--to-stdout|-f\n"
    assert (env.prefix(archive) / "share/data").read_text() == "data\n"
