"""The ``env`` fixture: one test per runner (see ``test_conformance.RUNNERS``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_conformance import RUNNERS, Env, runner_available


@pytest.fixture(params=list(RUNNERS))
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Env:
    runner: str = request.param
    if not runner_available(runner):
        pytest.skip(f"{RUNNERS[runner][0]} is not installed")
    (tmp_path / "outside").mkdir()
    return Env(tmp_path, runner)


@pytest.fixture(params=[name for name in RUNNERS if name != "pkg-run"])
def runner_env(request: pytest.FixtureRequest, tmp_path: Path) -> Env:
    """As ``env`` without ``pkg run``, which is ``python -m pkgtool.runner`` behind another
    entry point (``pkgtool.__main__`` hands ``run`` to the same function): for the large
    damaged and hostile sets, to keep the suite short."""
    runner: str = request.param
    if not runner_available(runner):
        pytest.skip(f"{RUNNERS[runner][0]} is not installed")
    (tmp_path / "outside").mkdir()
    return Env(tmp_path, runner)
