"""Parsl: examples/parsl/run.py, HighThroughputExecutor whose two worker pools (blocks) are
started by ``WrappedLauncher(prepend="exec pkg run ARCHIVE")``, on LocalProvider and on
SlurmProvider (the private Slurm): two runs of the archive, one extraction."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from engines._probe import Probe
from engines._slurm import Slurm
from engines.conftest import (
    EXAMPLES,
    EngineJob,
    check_result,
    ready_environments,
    run_group,
    venv_bin,
)

pytestmark = [pytest.mark.engine, pytest.mark.slow]

CLIENT = EXAMPLES / "parsl" / "run.py"
TASKS = 8


@pytest.fixture(scope="session")
def parsl() -> None:
    pytest.importorskip("parsl", reason="parsl (test extra) not installed")


def _run(
    engine_job: EngineJob, workdir: Path, probe: Probe, extra_env: dict[str, str], *args: str
) -> Path:
    """Run the example from a client directory holding its own helper.py; check the 8
    results and one extraction; return the cache root."""
    client_dir = workdir / "client"
    client_dir.mkdir()
    shutil.copy(workdir / "params.yaml", client_dir)
    shutil.copy(EXAMPLES / "job" / "helper.py", client_dir)
    rundir = workdir / "run"
    rundir.mkdir()
    cache = workdir / "cache"
    env = {
        **os.environ,
        **extra_env,
        "PATH": f"{probe.bin}:{venv_bin()}:{os.environ['PATH']}",
        "PKG_CACHE_DIR": str(cache),
    }
    proc = run_group(
        [sys.executable, str(CLIENT), str(engine_job.archive), str(rundir), str(TASKS), *args],
        cwd=client_dir, env=env, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-5000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == TASKS, proc.stdout
    prefix = cache / engine_job.env_id
    for index, line in enumerate(lines):
        check_result(line, index, prefix)  # helper from the archive, not client_dir's
    assert any(
        line.startswith("parsl ") and line.endswith(" ok") for line in proc.stdout.splitlines()
    )
    assert probe.extractions(cache) == 1
    assert ready_environments(cache) == [prefix]
    return cache


def test_htex_local_provider(
    parsl: None, engine_job: EngineJob, workdir: Path, probe: Probe
) -> None:
    """Both pools run on this machine inside the environment: 8 results right, helper from
    the archive, one extraction for the two; the client checked its versions first."""
    _run(engine_job, workdir, probe, {})


def test_htex_slurm_provider(
    parsl: None, slurm: Slurm, engine_job: EngineJob, workdir: Path, probe: Probe
) -> None:
    """Both pools run in Slurm jobs (in RUNDIR) inside the environment: the same, and the
    blocks' jobs are gone afterwards."""
    _run(engine_job, workdir, probe, slurm.env, "--slurm", "debug")
    deadline = time.monotonic() + 30
    while slurm.command("squeue", "-h").stdout.strip():
        assert time.monotonic() < deadline, "Parsl left its blocks' jobs in the queue"
        time.sleep(0.2)
