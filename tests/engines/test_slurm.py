"""Slurm: examples/slurm/*.sbatch on a private single-node Slurm, with both runners, as root
and as ``nobody``, and a job cancelled in the middle of the first extraction."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from engines._probe import Probe
from engines._slurm import Slurm, job_tasks_ok
from engines.conftest import EXAMPLES, EngineJob, check_result, ready_environments, venv_bin

pytestmark = [pytest.mark.engine, pytest.mark.slow]

ARRAY = EXAMPLES / "slurm" / "array.sbatch"
ARRAY_SH = EXAMPLES / "slurm" / "array-sh-runner.sbatch"
TASKS = 8  # examples/slurm/*.sbatch: --array=0-7
BARE_PATH = "/usr/bin:/bin"
"""A PATH with neither pkgtool nor the python that built the archive."""


def _job_env(cache: Path, path: str) -> dict[str, str]:
    # Jobs inherit the submitter's environment: this is all they get.
    return {"PATH": path, "PKG_CACHE_DIR": str(cache), "HOME": "/", "LANG": "C.UTF-8"}


def _check_array(
    work: Path, job: EngineJob, cache: Path, probe: Probe, tasks: int = TASKS, extractions: int = 1
) -> None:
    prefix = cache / job.env_id
    outputs = sorted(work.glob("task-*.out"))
    assert len(outputs) == tasks, [p.name for p in outputs]
    for index in range(tasks):
        # --output holds stderr too: the runner may report its cold extraction there
        text = (work / f"task-{index}.out").read_text()
        lines = [line for line in text.splitlines() if line.startswith("{")]
        assert len(lines) == 1, text
        check_result(lines[0], index, prefix)
    # One extraction for the node's cache, whichever task came first: the others waited
    # and took the warm path (tar's log), and one environment is ready.
    assert probe.extractions(cache) == extractions
    assert ready_environments(cache) == [prefix]


def test_array_pkg_run(slurm: Slurm, engine_job: EngineJob, workdir: Path, probe: Probe) -> None:
    """array.sbatch: 8 tasks through `pkg run`, all right, one extraction."""
    cache = workdir / "cache"
    env = _job_env(cache, f"{probe.bin}:{venv_bin()}:{BARE_PATH}")
    job_id = slurm.submit(str(ARRAY), str(engine_job.archive), env=env, cwd=workdir)
    tasks = slurm.wait(job_id)
    assert len(tasks) == TASKS and job_tasks_ok(tasks), tasks
    _check_array(workdir, engine_job, cache, probe)


def test_array_sh_runner_without_pkgtool(
    slurm: Slurm, engine_job: EngineJob, workdir: Path, host_python: Path, probe: Probe
) -> None:
    """array-sh-runner.sbatch: 8 tasks through pkg-run.sh on a PATH without pkgtool or the
    build's python; all right, one extraction."""
    assert shutil.which("pkg", path=BARE_PATH) is None
    bare_python = shutil.which("python3", path=BARE_PATH)
    assert bare_python is None or Path(bare_python).resolve() != host_python.resolve()
    probe.install_runner(workdir / "pkg-run")
    cache = workdir / "cache"
    env = _job_env(cache, f"{probe.bin}:{BARE_PATH}")
    job_id = slurm.submit(str(ARRAY_SH), str(engine_job.archive), env=env, cwd=workdir)
    tasks = slurm.wait(job_id)
    assert len(tasks) == TASKS and job_tasks_ok(tasks), tasks
    _check_array(workdir, engine_job, cache, probe)


def test_array_as_nobody(slurm: Slurm, engine_job: EngineJob, workdir: Path, probe: Probe) -> None:
    """array-sh-runner.sbatch submitted by `nobody`: the tasks run as nobody, all right, one
    extraction into nobody's own cache."""
    probe.install_runner(workdir / "pkg-run")
    os.chown(workdir, 65534, 65534)
    cache = workdir / "cache"
    job_id = slurm.submit(
        str(ARRAY_SH), str(engine_job.archive),
        env=_job_env(cache, f"{probe.bin}:{BARE_PATH}"), cwd=workdir, user="nobody",
    )  # fmt: skip
    tasks = slurm.wait(job_id)
    assert len(tasks) == TASKS and job_tasks_ok(tasks), tasks
    _check_array(workdir, engine_job, cache, probe)
    assert cache.stat().st_uid == 65534
    assert {p.stat().st_uid for p in workdir.glob("task-*.out")} == {65534}


def _unpacking(cache: Path) -> bool:
    """Whether files are being written into some directory of the cache root."""
    if not cache.is_dir():
        return False
    return any(p.is_dir() and any(p.iterdir()) for p in cache.iterdir())


@pytest.mark.parametrize("script", [ARRAY, ARRAY_SH], ids=["pkg-run", "sh-runner"])
def test_scancel_during_first_extraction(
    slurm: Slurm, engine_job: EngineJob, workdir: Path, script: Path, probe: Probe
) -> None:
    """A job cancelled while it unpacks leaves no ready environment; the job submitted again
    unpacks anew (the second extraction) and its result is right."""
    probe.install_runner(workdir / "pkg-run")
    cache = workdir / "cache"
    env = _job_env(cache, f"{probe.bin}:{venv_bin()}:{BARE_PATH}")
    job_id = slurm.submit("--array=0", str(script), str(engine_job.archive), env=env, cwd=workdir)
    deadline = time.monotonic() + 60
    while not _unpacking(cache):
        assert time.monotonic() < deadline, "the extraction never started"
        assert slurm.active(job_id), f"job ended before extracting: {slurm.tasks(job_id)}"
        time.sleep(0.02)
    assert ready_environments(cache) == [], "too late: the extraction had finished"
    slurm.command("scancel", job_id)
    (cancelled,) = slurm.wait(job_id)
    assert cancelled.state == "CANCELLED", cancelled
    assert ready_environments(cache) == []
    cancelled_extractions = probe.extractions(cache)  # 0 if it stopped before tar started
    assert cancelled_extractions <= 1

    (workdir / "task-0.out").unlink(missing_ok=True)
    job_id = slurm.submit("--array=0", str(script), str(engine_job.archive), env=env, cwd=workdir)
    tasks = slurm.wait(job_id)
    assert job_tasks_ok(tasks), (tasks, (workdir / "task-0.out").read_text())
    _check_array(workdir, engine_job, cache, probe, tasks=1, extractions=cancelled_extractions + 1)
