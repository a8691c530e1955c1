"""Work Queue: examples/workqueue/manager.py (under Debian's /usr/bin/python3, where the
bindings import) sends tasks running the sh runner, with the archive as a cached input, to a
local ``work_queue_worker``; pkgtool's default cache root makes them share one extraction."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from engines._probe import Probe
from engines.conftest import EXAMPLES, EngineJob, check_result, ready_environments, remove_tree

pytestmark = [pytest.mark.engine, pytest.mark.slow]

MANAGER = EXAMPLES / "workqueue" / "manager.py"
SYSTEM_PYTHON = "/usr/bin/python3"
TASKS = 6


@pytest.fixture
def default_cache_root(engine_job: EngineJob) -> Iterator[Path]:
    """pkgtool's default cache root on this node for this user, as documented; the session's
    archive id is unique, and its environment is removed from the shared root afterwards."""
    root = Path(f"/tmp/pkgtool-{os.getuid()}")
    assert not (root / engine_job.env_id).exists()
    yield root
    remove_tree(root / engine_job.env_id)
    with contextlib.suppress(FileNotFoundError):
        (root / f"{engine_job.env_id}.lock").unlink()


@pytest.fixture(scope="session")
def workqueue() -> None:
    """Skip (before the session's archive is built) unless Work Queue's worker and its
    Python bindings (Debian) are installed."""
    if shutil.which("work_queue_worker") is None:
        pytest.skip("work_queue_worker not installed (Debian coop-computing-tools; .ci/run)")
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import work_queue"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"{SYSTEM_PYTHON} cannot import work_queue (Debian python3-workqueue)")


def test_tasks_on_one_worker_extract_once(
    workqueue: None, engine_job: EngineJob, workdir: Path, default_cache_root: Path, probe: Probe
) -> None:
    """6 tasks on one 2-core worker, default settings (no --cache-dir, no PKG_CACHE_DIR,
    a per-task TMPDIR from Work Queue): all results right, and every task ran in the one
    environment unpacked under /tmp/pkgtool-$UID."""
    probe.install_runner(workdir / "pkg-run")
    env = {k: v for k, v in os.environ.items() if k not in ("PKG_CACHE_DIR", "TMPDIR")}
    env["PATH"] = f"{probe.bin}:{env['PATH']}"
    manager = subprocess.Popen(
        [SYSTEM_PYTHON, str(MANAGER), str(engine_job.archive), str(TASKS), "0"],
        cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    worker: subprocess.Popen[bytes] | None = None
    try:
        assert manager.stderr is not None
        first = manager.stderr.readline()
        assert first.startswith("listening on port "), first
        port = first.split()[-1]
        workspace = workdir / "worker"
        workspace.mkdir()
        worker = subprocess.Popen(
            ["work_queue_worker", "--cores", "2", "--single-shot", "--timeout", "120",
             "--workdir", str(workspace), "127.0.0.1", port],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        out, err = manager.communicate(timeout=240)
        assert manager.returncode == 0, err[-5000:]
        assert worker.wait(timeout=60) == 0
    finally:
        for proc in (manager, worker):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    # one line per task, in the order they finished
    lines = sorted(out.splitlines(), key=lambda line: int(json.loads(line)["task"]))
    assert len(lines) == TASKS, out
    prefix = default_cache_root / engine_job.env_id
    for index, line in enumerate(lines):
        check_result(line, index, prefix)
    # The one extraction every task used, outside the per-task sandboxes.
    assert probe.extractions(default_cache_root) == 1
    assert prefix in ready_environments(default_cache_root)
    assert not prefix.is_relative_to(workspace)
