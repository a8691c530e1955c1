"""examples/call/array.sbatch on the private Slurm: a job array whose tasks each call
clean:clean_data on their own input file through `pkg call`."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from call._archive import EXAMPLE, CallEnv, build, expected_rows
from engines._slurm import Slurm, job_tasks_ok
from engines.conftest import ready_environments, venv_bin

pytestmark = [pytest.mark.engine, pytest.mark.slow]

TASKS = 4  # examples/call/array.sbatch: --array=0-3
Pkg = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def call_archive(tmp_path_factory: pytest.TempPathFactory, host_python: Path, pkg: Pkg) -> CallEnv:
    """The pkg call tests' archive (built once per session, see tests/call/_archive.py)."""
    return build(tmp_path_factory.getbasetemp(), host_python, pkg)


def test_call_array(slurm: Slurm, call_archive: CallEnv, public_dir: Path) -> None:
    work = public_dir / "call-array"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("deps.json", "env.*", "out-*"))
    work.chmod(0o755)
    cache = work / "cache"
    env = {
        "PATH": f"{venv_bin()}:/usr/bin:/bin",
        "PKG_CACHE_DIR": str(cache),
        "HOME": "/",
        "LANG": "C.UTF-8",
    }
    job_id = slurm.submit(str(work / "array.sbatch"), str(call_archive.archive), env=env, cwd=work)
    tasks = slurm.wait(job_id, timeout=300)
    logs = {p.name: p.read_text() for p in sorted(work.glob("call-*.out"))}
    assert len(tasks) == TASKS and job_tasks_ok(tasks), (tasks, logs)
    for index in range(TASKS):
        out = work / f"out-{index}"
        rows = expected_rows(work / "data" / f"raw-{index}.csv")
        assert json.loads((out / "results.json").read_text()) == {"row_count": len(rows)}
        manifest = json.loads((out / "outputs.json").read_text())
        assert [o["path"] for o in manifest["outputs"]] == ["results.json", "cleaned.parquet"]
        assert (out / "cleaned.parquet").stat().st_size == manifest["outputs"][1]["size"]
    assert len(ready_environments(cache)) == 1  # one extraction for the node
