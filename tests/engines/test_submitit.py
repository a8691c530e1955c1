"""submitit: examples/submitit/run.py, ``SlurmExecutor(python="pkg run ARCHIVE python3")``
on the private Slurm, the jobs in RUNDIR (``chdir``)."""

from __future__ import annotations

import os
import shutil
import sys
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

CLIENT = EXAMPLES / "submitit" / "run.py"
TASKS = 4


def test_job_array_from_archive(
    slurm: Slurm, engine_job: EngineJob, workdir: Path, probe: Probe
) -> None:
    """4 array tasks run the pickled function in the environment: results right, helper
    from the archive although the submit directory has its own helper.py, one extraction."""
    pytest.importorskip("submitit", reason="submitit (test extra) not installed")
    client_dir = workdir / "client"
    client_dir.mkdir()
    shutil.copy(workdir / "params.yaml", client_dir)
    shutil.copy(EXAMPLES / "job" / "helper.py", client_dir)
    rundir = workdir / "run"
    rundir.mkdir()
    cache = workdir / "cache"
    env = {
        **os.environ,
        **slurm.env,
        "PATH": f"{probe.bin}:{venv_bin()}:{os.environ['PATH']}",
        "PKG_CACHE_DIR": str(cache),
    }
    proc = run_group(
        [sys.executable, str(CLIENT), str(engine_job.archive), str(rundir), str(TASKS)],
        cwd=client_dir, env=env, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-5000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == TASKS, proc.stdout
    prefix = cache / engine_job.env_id
    for index, line in enumerate(lines):
        check_result(line, index, prefix)
    assert probe.extractions(cache) == 1
    assert ready_environments(cache) == [prefix]
