"""Session fixtures shared by the test suite.

``local_channel`` is a real ``file://`` conda channel: python from the host interpreter and
conda packages made from real wheels of the package index (numpy, pyyaml, pip, six and their
dependencies). Set ``PKG_TEST_WHEELHOUSE`` to a directory to keep the downloaded wheels
between runs.
"""

from __future__ import annotations

import os
import sys
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
