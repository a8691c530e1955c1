"""Session fixtures shared by the test suite.

``local_channel`` is a real ``file://`` conda channel: python from the host interpreter and
conda packages made from real wheels of the package index (numpy, pyyaml, pip, six and their
dependencies). Set ``PKG_TEST_WHEELHOUSE`` to a directory to keep the downloaded wheels
between runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from pkgtool.builder import channel

TEST_WHEELS = ("numpy", "pyyaml", "pip", "six")


class LocalChannel(NamedTuple):
    """A local channel: ``url`` (``file://``), ``path`` (its directory), host ``python_version``."""

    url: str
    path: Path
    python_version: str


@pytest.fixture(scope="session")
def host_python() -> Path:
    """The base interpreter executable behind ``sys.executable`` (never a venv's python)."""
    return channel.inspect_interpreter(Path(sys.executable)).executable


@pytest.fixture(scope="session")
def local_channel(tmp_path_factory: pytest.TempPathFactory, host_python: Path) -> LocalChannel:
    """A channel built once per session from the host python and downloaded wheels."""
    version = channel.inspect_interpreter(host_python).version
    wheelhouse_env = os.environ.get("PKG_TEST_WHEELHOUSE")
    wheelhouse = Path(wheelhouse_env) if wheelhouse_env else tmp_path_factory.mktemp("wheelhouse")
    wheels = channel.download_wheels(list(TEST_WHEELS), wheelhouse, version)
    path = tmp_path_factory.mktemp("channel")
    url = channel.build_channel(path, host_python, wheels)
    return LocalChannel(url=url, path=path, python_version=version)


def run_pkg(
    *args: str | Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``pkg`` command line (``python -m pkgtool``) in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "pkgtool", *map(str, args)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def pkg() -> Callable[..., subprocess.CompletedProcess[str]]:
    """The :func:`run_pkg` helper, as a fixture."""
    return run_pkg


@pytest.fixture(scope="session", autouse=True)
def analyze_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The analyzer's scan cache, shared by the session, never the user's ~/.cache."""
    path = tmp_path_factory.mktemp("analyze-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PKG_ANALYZE_CACHE_DIR", str(path))
        yield path
