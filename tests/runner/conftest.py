"""The ``env`` fixture: one test per runner (see ``test_conformance.RUNNERS``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .test_conformance import RUNNERS, ZSTD_WITHOUT_ZLIB, Env, runner_available, system_path


@pytest.fixture(params=list(RUNNERS))
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Env:
    runner: str = request.param
    if not runner_available(runner):
        pytest.skip(f"{RUNNERS[runner][0]} is not installed")
    (tmp_path / "outside").mkdir()
    return Env(tmp_path, runner)


@pytest.fixture(scope="session")
def gzip_only_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """PATH of a node whose zstd cannot read gzip: pkg-run.sh decodes gzip with gzip."""
    if shutil.which("zstd") is None:
        pytest.skip("no zstd on this machine: plain dash already decodes gzip with gzip")
    dest = tmp_path_factory.mktemp("zstd-without-zlib") / "bin"
    return system_path(dest, scripts={"zstd": ZSTD_WITHOUT_ZLIB})


@pytest.fixture(params=[*(name for name in RUNNERS if name != "pkg-run"), "dash-gzip"])
def runner_env(request: pytest.FixtureRequest, tmp_path: Path) -> Env:
    """As ``env`` without ``pkg run``, which is ``python -m pkgtool.runner`` behind another
    entry point (``pkgtool.__main__`` hands ``run`` to the same function): for the large
    damaged and hostile sets, to keep the suite short. ``dash-gzip`` is ``pkg-run.sh``
    under dash on a node whose zstd cannot read gzip: there gzip decodes gzip, elsewhere
    zstd does (docs/runner.md)."""
    runner: str = request.param
    path = request.getfixturevalue("gzip_only_path") if runner == "dash-gzip" else None
    runner = "dash" if runner == "dash-gzip" else runner
    if not runner_available(runner):
        pytest.skip(f"{RUNNERS[runner][0]} is not installed")
    (tmp_path / "outside").mkdir()
    return Env(tmp_path, runner, path)
