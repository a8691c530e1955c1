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
