"""What a node may lack: tools on PATH, free space, a recent Python."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .test_conformance import (
    SCRIPT,
    ZSTD_WITHOUT_ZLIB,
    Env,
    assert_runner_error,
    can_mount,
    file,
    leftovers,
    standard_members,
    system_path,
    write_archive,
)

ROOT = Path(__file__).resolve().parents[2]


def sh_runner_tools() -> list[str]:
    """Every tool pkg-run.sh checks for with ``_pr_need`` (zstd only for .tar.zst)."""
    text = SCRIPT.read_text()
    calls = re.findall(r"^\s*_pr_need ((?:[a-z0-9]+[ \\\n]*)+)$", text, flags=re.MULTILINE)
    return sorted({tool for call in calls for tool in call.replace("\\", " ").split()})


def test_the_sh_runner_checks_every_tool_it_uses() -> None:
    tools = sh_runner_tools()
    assert "zstd" in tools and "flock" in tools and "tar" in tools
    code = "\n".join(
        line for line in SCRIPT.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    code = re.sub(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"", "''", code)  # no words inside quotes
    pattern = r"(?:^|[|;&({]|\bthen|\bdo|\belse|&&|\|\|)\s*([a-z][a-z0-9]+)\b"
    commands = set(re.findall(pattern, code, flags=re.MULTILINE))
    external = {c for c in commands if shutil.which(c) and c not in _SH_BUILTINS}
    assert external - _SH_OPTIONAL <= set(tools), external - _SH_OPTIONAL - set(tools)
    for tool in _SH_OPTIONAL:  # used only where `command -v` found it
        assert f"command -v {tool} >/dev/null 2>&1 || return 0" in code


_SH_BUILTINS = {"echo", "printf", "test", "true", "false", "kill", "pwd", "read", "wait"}
_SH_OPTIONAL = {"openssl"}  # hashes faster when present and right; sha256sum otherwise


@pytest.mark.parametrize("doc", ["README.md", "docs/runner.md"])
def test_docs_list_exactly_the_tools_of_the_sh_runner(doc: str) -> None:
    paragraphs = (ROOT / doc).read_text().split("\n\n")
    paragraph = next(text for text in paragraphs if "sh runner needs" in text.lower())
    listed = set(re.findall(r"`([a-z0-9]+)`", paragraph)) - {"sh"}
    assert listed == set(sh_runner_tools())


@pytest.fixture(scope="session")
def path_without(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Tool -> a PATH directory holding every system command except that tool (for
    ``not-gnu-TOOL``: with a TOOL that is not GNU's)."""
    busybox = "#!/bin/sh\necho 'busybox v1.36 multi-call binary'\nexit 1\n"
    paths: dict[str, str] = {}
    for tool in [*sh_runner_tools(), *NOT_GNU]:
        dest = tmp_path_factory.mktemp(f"without-{tool}") / "bin"
        if tool in NOT_GNU:
            paths[tool] = system_path(dest, scripts={tool.removeprefix("not-gnu-"): busybox})
        else:
            paths[tool] = system_path(dest, without=[tool])
    return paths


NOT_GNU = ("not-gnu-tar", "not-gnu-find", "not-gnu-dd")


@pytest.mark.parametrize("zstd", ["reads-gzip", "without-zlib", "wrong", "missing"])
def test_sh_runner_decodes_gzip_with_zstd_only_where_zstd_reads_it_right(
    tmp_path: Path, zstd: str
) -> None:
    """pkg-run.sh decodes gzip with ``zstd -d`` when the node's zstd gives the right bytes
    for a known gzip member (zstd built with zlib: less CPU than gzip's own inflate), else
    with gzip. A zstd that refuses gzip, decodes it wrong (a stub, a broken build) or is
    missing changes the speed only: the same run succeeds and a damaged copy is refused."""
    real_zstd, real_gzip = shutil.which("zstd"), shutil.which("gzip")
    if real_zstd is None or real_gzip is None:
        pytest.skip("needs zstd and gzip on this machine")
    log = tmp_path / "decoders.log"

    def logged(name: str, body: str) -> str:
        return f'#!/bin/sh\necho {name} "$@" >>{log}\n{body}\n'

    scripts = {"gzip": logged("gzip", f'exec {real_gzip} "$@"')}
    scripts["zstd"] = {
        "reads-gzip": logged("zstd", f'exec {real_zstd} "$@"'),
        "without-zlib": ZSTD_WITHOUT_ZLIB,
        "wrong": logged("zstd", "cat >/dev/null; echo abd"),
        "missing": "",
    }[zstd]
    if zstd == "missing":
        del scripts["zstd"]
    path = system_path(tmp_path / "bin", without=["zstd"], scripts=scripts)
    env = Env(tmp_path, "dash", path)
    good = env.archive()
    result = env.run(good, "sh", "-c", 'echo "$PKG_TEST_VAR"')
    assert (result.returncode, result.stdout) == (0, "hello world\n"), result.stderr
    decoders = [line.split()[0] for line in log.read_text().splitlines()]
    if zstd == "reads-gzip":
        assert "gzip" not in decoders and decoders.count("zstd") >= 2  # the probe, the archive
    else:
        assert "gzip" in decoders
    damaged = env.tmp / "damaged.tar.gz"
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0x55
    damaged.write_bytes(bytes(data))
    assert_runner_error(env.run(damaged, "true"), "damaged")
    assert len(env.unpacks()) == 1


@pytest.mark.parametrize("runner", ["dash", "bash-posix", "env.sh"])
def test_sh_runner_refuses_when_a_tool_is_missing(
    tmp_path: Path, runner: str, path_without: dict[str, str]
) -> None:
    env = Env(tmp_path, runner)
    gz = env.archive()
    zst = write_archive(tmp_path / "env.tar.zst", standard_members(), "zst")
    tools = sh_runner_tools() if runner != "env.sh" else ["tail", "tar", "find", "dd", "zstd"]
    for tool in [*tools, *NOT_GNU]:
        archive = zst if tool == "zstd" else gz
        shutil.rmtree(env.cache, ignore_errors=True)
        result = env.run(archive, "true", PATH=path_without[tool])
        needle = f"needs GNU {tool.removeprefix('not-gnu-')}" if "gnu" in tool else tool
        assert_runner_error(result, needle)
        assert leftovers(env.cache) == []
        assert env.unpacks() == []
    result = env.run(gz, "true", PATH=path_without["zstd"])  # zstd is for .tar.zst only
    assert result.returncode == 0, result.stderr


def test_python_runner_refuses_without_tar_or_zstd(
    tmp_path: Path, path_without: dict[str, str]
) -> None:
    env = Env(tmp_path, "python")
    gz = env.archive()
    zst = write_archive(tmp_path / "env.tar.zst", standard_members(), "zst")
    assert_runner_error(env.run(gz, "true", PATH=path_without["tar"]), "tar")
    assert leftovers(env.cache) == []
    assert_runner_error(env.run(gz, "true", PATH=path_without["not-gnu-tar"]), "needs GNU tar")
    assert leftovers(env.cache) == []
    # -S hides the zstandard module of this environment: the zstd child is the other way
    no_module = [sys.executable, "-S", "-m", "pkgtool.runner", "--cache-dir", str(env.cache)]
    result = subprocess.run(
        [*no_module, str(zst), "sh", "-c", 'echo "$PKG_TEST_VAR"'],
        capture_output=True, text=True, env=env.environ(PATH=path_without["zstd"]), check=False,
    )  # fmt: skip
    assert_runner_error(result, "zstd")
    assert leftovers(env.cache) == []
    result = subprocess.run(
        [*no_module, str(zst), "sh", "-c", 'echo "$PKG_TEST_VAR"'],
        capture_output=True, text=True, env=env.environ(), check=False,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (0, "hello world\n"), result.stderr


def test_the_python_runner_uses_the_zstandard_module_when_it_can() -> None:
    if not shutil.which(sys.executable):
        pytest.skip("no interpreter path")
    probe = "import pkgtool.runner._stream as s; print(s._zstandard() is not None)"
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    try:
        import zstandard  # noqa: F401
    except ImportError:
        assert found.stdout == "False\n"
    else:
        assert found.stdout == "True\n"


@pytest.mark.skipif(not can_mount(), reason="needs root and unshare -m to mount a small tmpfs")
def test_disk_full_exits_125_with_the_reason_and_leaves_nothing(env: Env) -> None:
    archive = env.archive([*standard_members(), file("lib/big", os.urandom(3_000_000))])
    leftover_list = env.tmp / "leftovers"
    script = (
        'cache=$1; shift; mount -t tmpfs -o size=1m,mode=0700 tmpfs "$cache" || exit 99; '
        '"$@"; status=$?; ls -A "$cache" >"$LEFT"; exit $status'
    )
    env.cache.mkdir(mode=0o700)
    argv = env.argv(archive, ["true"])
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", str(env.cache), *argv],
        capture_output=True, text=True, env=env.environ(LEFT=str(leftover_list)), check=False,
    )  # fmt: skip
    assert_runner_error(result, "No space left on device")
    left = leftover_list.read_text().split()
    assert [name for name in left if not name.endswith(".lock")] == []


PY38 = Path.home() / ".pyenv/versions/3.8.18/bin/python3"


@pytest.mark.skipif(not PY38.exists(), reason=f"{PY38} is not installed")
@pytest.mark.parametrize("compression", ["gz", "zst"])
def test_python_runner_on_python_3_8(tmp_path: Path, compression: str) -> None:
    env = Env(tmp_path, "python")
    archive = write_archive(tmp_path / f"env.{compression}", standard_members(), compression)
    argv = [str(PY38), "-m", "pkgtool.runner", "--cache-dir", str(env.cache), str(archive)]
    for _ in ("cold", "warm"):
        result = subprocess.run(
            [*argv, "sh", "-c", 'echo "$PKG_TEST_VAR"'],
            capture_output=True, text=True, env=env.environ(), check=False,
        )  # fmt: skip
        assert (result.returncode, result.stdout) == (0, "hello world\n"), result.stderr
    assert len(env.unpacks()) == 1
    damaged = tmp_path / "damaged"
    damaged.write_bytes(archive.read_bytes()[:-3])
    result = subprocess.run(
        [*argv[:-1], str(damaged), "true"], capture_output=True, text=True,
        env=env.environ(), check=False,
    )  # fmt: skip
    assert_runner_error(result, "damaged")
