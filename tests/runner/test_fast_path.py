"""``pkg run``'s fast path (``pkgtool.__main__`` -> the stdlib-only runner, no typer/rich):
what it imports on the warm path, where ``--help`` goes, and the command search it does
instead of :func:`os.execvpe` (the same rules, checked against every runner)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .test_conformance import Env, standard_members

# Modules the warm path used to import (contextlib: ~3 ms, re: ~6 ms, warnings: ~0.5 ms) or
# must never import (the CLI's and the cold path's).
NOT_ON_THE_WARM_PATH = frozenset(
    {
        "re",
        "enum",
        "functools",
        "collections",
        "contextlib",
        "warnings",
        "typing",
        "dataclasses",
        "pathlib",
        "shutil",
        "subprocess",
        "tarfile",
        "hashlib",
        "json",
        "typer",
        "rich",
        "__future__",
        "pkgtool.cli",
        "pkgtool.errors",
        "pkgtool.runner._cold",
        "pkgtool.runner._lock",
    }
)

# Everything the warm `pkg run` imports beyond the interpreter's start-up (fcntl: flock).
WARM_PKG_RUN = frozenset({"pkgtool", "pkgtool.__main__", "pkgtool.runner", "fcntl"})

# ``python -c`` rather than ``-m pkgtool`` (runpy) or the console script (its wrapper is the
# installer's): the imports measured are pkgtool's own.
PKG_MAIN = "import sys; sys.argv[0] = 'pkg'; from pkgtool.__main__ import main; main()"


def _imported(env: Env, code: str, *args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """Modules ``python -X importtime -c CODE ARGS`` reports (on stderr), and the result."""
    return _imported_argv(env, "-c", code, *args)


def _imported_argv(env: Env, *args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """Modules ``python -X importtime ARGS`` reports (on stderr), and the result."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        capture_output=True,
        text=True,
        env=env.environ(),
        timeout=60,
        check=False,
    )
    names = {
        line.rpartition("|")[2].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return names, result


@pytest.mark.parametrize("kind", ["tar.gz", "self-extracting"])
def test_warm_path_imports_only_what_it_needs(tmp_path: Path, kind: str) -> None:
    env = Env(tmp_path, "pkg-run")
    archive = env.archive(standard_members(activate_d=False))
    if kind == "self-extracting":  # its payload offset is read on the warm path too
        archive = env.self_extracting(archive)
    run = ["run", "--cache-dir", str(env.cache), str(archive), "true"]
    startup, _ = _imported(env, "pass")  # the interpreter's own (site, .pth files)
    cold, result = _imported(env, PKG_MAIN, *run)
    assert result.returncode == 0, result.stderr
    warm, result = _imported(env, PKG_MAIN, *run)
    assert result.returncode == 0, result.stderr
    assert {"pkgtool.__main__", "pkgtool.runner"} <= warm
    assert "pkgtool.runner._cold" in cold  # the same probe sees the cold path's imports
    assert not (warm - startup) & NOT_ON_THE_WARM_PATH, sorted(warm - startup)
    assert warm - startup <= WARM_PKG_RUN, sorted(warm - startup - WARM_PKG_RUN)


def test_python_m_runner_warm_path_imports_only_the_runner(tmp_path: Path) -> None:
    """``python -m pkgtool.runner`` loads ``pkgtool``, ``pkgtool.runner`` and ``fcntl``
    beyond what any ``python -m`` loads (runpy's imports: measured with ``-m this``)."""
    env = Env(tmp_path, "python")
    archive = env.archive(standard_members(activate_d=False))
    run = ["-m", "pkgtool.runner", "--cache-dir", str(env.cache), str(archive), "true"]
    startup, _ = _imported_argv(env, "-m", "this")
    cold, result = _imported_argv(env, *run)
    assert result.returncode == 0, result.stderr
    warm, result = _imported_argv(env, *run)
    assert result.returncode == 0, result.stderr
    assert "pkgtool.runner._cold" in cold  # the same probe sees the cold path's imports
    expected = {"pkgtool", "pkgtool.runner", "fcntl"}
    assert {"pkgtool", "pkgtool.runner"} <= warm
    assert warm - startup - {"this"} <= expected, sorted(warm - startup - {"this"} - expected)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_run_help_goes_to_the_full_cli(tmp_path: Path, flag: str) -> None:
    env = Env(tmp_path, "pkg-run")
    result = subprocess.run(
        [sys.executable, "-c", PKG_MAIN, "run", flag],
        capture_output=True,
        text=True,
        env=env.environ(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: pkg run [OPTIONS] ARCHIVE COMMAND..."), result.stdout
    assert "--cache-dir" in result.stdout


def _tool(directory: Path, body: str, mode: int) -> None:
    directory.mkdir(exist_ok=True)
    tool = directory / "pkgtool-test-tool"
    tool.write_text(f"#!/bin/sh\n{body}\n")
    tool.chmod(mode)


def test_command_search_follows_path_like_execvp(env: Env) -> None:
    """A non-executable match is skipped for a later executable one (126 only when none
    is), an empty ``PATH`` entry is the working directory: ``execvp(3)``'s rules, which
    ``os.execvpe`` and the shells follow too."""
    archive = env.archive(standard_members(activate_d=False))
    assert env.run(archive, "true").returncode == 0  # cold path with the usual PATH
    first, second, cwd = env.tmp / "first", env.tmp / "second", env.tmp / "cwd"
    _tool(first, "echo first", 0o644)
    _tool(second, "echo second", 0o755)
    _tool(cwd, "echo cwd", 0o755)
    system = os.environ["PATH"]

    skipped = env.run(archive, "pkgtool-test-tool", PATH=f"{first}:{second}:{system}")
    assert (skipped.returncode, skipped.stdout) == (0, "second\n"), skipped.stderr
    only = env.run(archive, "pkgtool-test-tool", PATH=f"{first}:{system}")
    assert only.returncode == 126, only.stderr
    missing = env.run(archive, "pkgtool-test-tool", PATH=system)
    assert missing.returncode == 127, missing.stderr
    here = subprocess.run(
        env.argv(archive, ["pkgtool-test-tool"]),
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env.environ(PATH=f"{first}::{system}"),
        timeout=60,
        check=False,
    )
    assert (here.returncode, here.stdout) == (0, "cwd\n"), here.stderr
