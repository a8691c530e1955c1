"""``pkg check-client ARCHIVE PYTHON`` on the session's archive: the test venv (the
client the archive was analysed with) agrees; a real venv with another cloudpickle and
no dask differs in cloudpickle, exit 3. (The archive is the engine tests', built for the
test venv's dask, distributed, parsl and submitit.)"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from engines.conftest import EngineJob, Pkg
from pkgtool.errors import EXIT_INPUT

pytestmark = [pytest.mark.engine, pytest.mark.slow]

OTHER_CLOUDPICKLE = "3.1.2"


def _rows(stdout: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in stdout.splitlines()}


def test_the_analysed_client_agrees(engine_job: EngineJob, pkg: Pkg) -> None:
    proc = pkg("check-client", engine_job.archive, sys.executable)
    assert proc.returncode == 0, proc.stderr
    rows = _rows(proc.stdout)
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert rows["python"] == [minor, minor, "ok"]
    shared = ("cloudpickle", "dask", "distributed", "parsl")  # ray: the client's only
    for name in shared:
        assert rows[name] == [version(name), version(name), "ok"], proc.stdout
    assert set(rows) == {"python", *shared}


def test_a_mismatching_client_venv_fails(engine_job: EngineJob, pkg: Pkg, tmp_path: Path) -> None:
    ours = version("cloudpickle")
    assert ours != OTHER_CLOUDPICKLE
    client = tmp_path / "client"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", client], check=True)
    python = client / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
         f"cloudpickle=={OTHER_CLOUDPICKLE}"],
        check=True, capture_output=True,
    )  # fmt: skip
    proc = pkg("check-client", engine_job.archive, python)
    assert proc.returncode == EXIT_INPUT, proc.stderr
    rows = _rows(proc.stdout)
    assert rows["cloudpickle"] == [ours, OTHER_CLOUDPICKLE, "DIFFERS"]
    assert rows["python"][2] == "ok"
    assert "dask" not in rows  # the client has no dask: nothing to compare
    error, hint = proc.stderr.strip().splitlines()
    assert error == (
        f"error: the client {python} differs from {engine_job.archive} in cloudpickle "
        f"(archive {ours}, client {OTHER_CLOUDPICKLE})"
    )
    assert hint.startswith("hint: build the archive for this client")
