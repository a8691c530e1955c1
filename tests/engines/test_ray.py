"""Ray: examples/ray/driver.py on a local Ray instance, its task workers started as ``pkg
run ARCHIVE python3`` (``runtime_env={"py_executable": ...}``) from an archive of its own
(it holds ray, ~240 MB unpacked: the other engines' archive does not carry it)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

from engines._probe import Probe
from engines.conftest import (
    EXAMPLES,
    Builder,
    EngineJob,
    check_result,
    ready_environments,
    remove_tree,
    run_group,
    venv_bin,
)

pytestmark = [pytest.mark.engine, pytest.mark.slow]

DRIVER = EXAMPLES / "ray" / "driver.py"
TASKS = 4


@pytest.fixture(scope="session")
def ray_job(builder: Builder) -> EngineJob:
    """``pkg analyze task.py ../ray/driver.py ray.json`` and ``pkg create ... ray.json
    ray.tar.zst``, as examples/ray/README.md says (skips before building without ray)."""
    pytest.importorskip("ray", reason="ray (test extra) not installed")
    return builder.build("ray", ["../ray/driver.py"], suffix=".tar.zst")


def test_tasks_run_in_the_environment(ray_job: EngineJob, workdir: Path, probe: Probe) -> None:
    """4 tasks on worker processes of the environment: results right (numpy, yaml, helper
    from the archive), one extraction; the driver checked its versions first."""
    cache = workdir / "cache"
    ray_tmp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # short: Unix socket paths
    env = {
        **os.environ,
        "PATH": f"{probe.bin}:{venv_bin()}:{os.environ['PATH']}",
        "PKG_CACHE_DIR": str(cache),
        "HOME": str(workdir),  # Ray's token file, not the user's
        "RAY_TMPDIR": str(ray_tmp),
    }
    try:
        proc = run_group(
            [sys.executable, str(DRIVER), str(ray_job.archive), str(TASKS)],
            cwd=workdir, env=env, timeout=240,
        )  # fmt: skip
    finally:
        remove_tree(ray_tmp)
    assert proc.returncode == 0, proc.stderr[-5000:]
    out = proc.stdout.splitlines()
    assert any(line.startswith("ray ") and line.endswith(" ok") for line in out), proc.stdout
    lines = [line for line in out if line.startswith("{")]
    assert len(lines) == TASKS, proc.stdout
    prefix = cache / ray_job.env_id
    for index, line in enumerate(lines):
        check_result(line, index, prefix)
    assert probe.extractions(cache) == 1
    assert ready_environments(cache) == [prefix]
