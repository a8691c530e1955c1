"""Dask-jobqueue: examples/dask/job.py drives ``SLURMCluster`` on the private Slurm; its
workers are Slurm jobs started through ``pkg run`` from the archive."""

from __future__ import annotations

import json
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

CLIENT = EXAMPLES / "dask" / "job.py"
TASKS = 8


@pytest.fixture(scope="session")
def dask_jobqueue() -> None:
    pytest.importorskip("dask_jobqueue", reason="dask-jobqueue (test extra) not installed")


def test_slurm_cluster_workers_from_archive(
    dask_jobqueue: None, slurm: Slurm, engine_job: EngineJob, workdir: Path, probe: Probe
) -> None:
    """The client checks its versions against the archive (pkg check-client); two worker
    jobs start from the archive (one extraction between them), compute 8 numpy tasks right,
    and import helper from the archive although the client's directory, where the jobs are
    submitted, has its own helper.py; the cluster leaves no job behind."""
    client_dir = workdir / "client"  # a user's project: helper.py beside the client
    client_dir.mkdir()
    shutil.copy(workdir / "params.yaml", client_dir)
    shutil.copy(EXAMPLES / "job" / "helper.py", client_dir)
    rundir = workdir / "run"
    rundir.mkdir()
    cache = workdir / "cache"
    env = {
        **os.environ,
        **slurm.env,
        "PATH": f"{probe.bin}:{venv_bin()}:{os.environ['PATH']}",  # `pkg` for the worker jobs
        "PKG_CACHE_DIR": str(cache),
        "DASK_JOBQUEUE__SLURM__INTERFACE": "lo",  # scheduler and workers on loopback
    }
    proc = run_group(
        [sys.executable, str(CLIENT), str(engine_job.archive), str(rundir), str(TASKS)],
        cwd=client_dir, env=env, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-5000:]
    out = proc.stdout.splitlines()
    checked = {line.split()[0] for line in out if line.endswith(" ok")}
    assert {"python", "dask", "distributed", "cloudpickle"} <= checked, proc.stdout
    lines = [line for line in out if line.startswith("{")]
    assert len(lines) == TASKS, proc.stdout
    prefix = cache / engine_job.env_id
    for index, line in enumerate(lines):
        check_result(line, index, prefix)
    assert probe.extractions(cache) == 1
    assert ready_environments(cache) == [prefix]
    worker_logs = sorted(rundir.glob("*.err"))
    assert len(worker_logs) == 2, [p.name for p in rundir.iterdir()]
    deadline = time.monotonic() + 30
    while slurm.command("squeue", "-h").stdout.strip():
        assert time.monotonic() < deadline, "the cluster left worker jobs in the queue"
        time.sleep(0.2)
    assert json.loads(lines[0])["helper"] != str(client_dir / "helper.py")
