"""The analyzer tests' user environment: the venv running the tests.

``pkg analyze`` takes installed versions from the user's environment (``VIRTUAL_ENV``,
else ``CONDA_PREFIX``, else ``python3`` on PATH), not from pkgtool's own interpreter. The
tests compare versions with :func:`importlib.metadata.version` of the running venv, so
they name it as the active virtual environment, as ``source .venv/bin/activate`` would.
"""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(autouse=True)
def _active_venv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIRTUAL_ENV", sys.prefix)
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
