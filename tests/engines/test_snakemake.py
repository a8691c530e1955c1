"""Snakemake: examples/snakemake/Snakefile, a rule whose shell command is ``pkg run ARCHIVE
python3 task.py INDEX``, run locally with two cores."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from engines._probe import Probe
from engines.conftest import (
    EXAMPLES,
    EngineJob,
    check_result,
    ready_environments,
    run_group,
    venv_bin,
)

pytestmark = [pytest.mark.engine, pytest.mark.slow]

SNAKEFILE = EXAMPLES / "snakemake" / "Snakefile"
TASKS = 6


def test_rules_run_in_the_environment(engine_job: EngineJob, workdir: Path, probe: Probe) -> None:
    """6 rule jobs (2 at a time) write the right results, computed in the environment with
    helper from the archive; one extraction."""
    pytest.importorskip("snakemake", reason="snakemake (test extra) not installed")
    shutil.copy(SNAKEFILE, workdir / "Snakefile")
    cache = workdir / "cache"
    env = {
        **os.environ,
        "PATH": f"{probe.bin}:{venv_bin()}:{os.environ['PATH']}",
        "PKG_CACHE_DIR": str(cache),
        "HOME": str(workdir),  # snakemake's caches, not the user's
    }
    proc = run_group(
        [sys.executable, "-m", "snakemake", "-c2", "--config",
         f"archive={engine_job.archive}", f"tasks={TASKS}"],
        cwd=workdir, env=env, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-5000:]
    prefix = cache / engine_job.env_id
    for index in range(TASKS):
        check_result((workdir / "results" / f"task-{index}.json").read_text(), index, prefix)
    assert probe.extractions(cache) == 1
    assert ready_environments(cache) == [prefix]
