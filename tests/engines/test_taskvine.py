"""TaskVine's ``declare_poncho`` on a pkgtool archive, as its worker runs it (cctools
source, taskvine/src/manager/vine_file.c and vine_task.c; worker/vine_cache.c): the mini task
runs ``mkdir output && tar xf package.tar.gz -C output && output/bin/run_in_env`` in a
sandbox, the worker renames ``output`` into its cache, and each task runs
``__vine_env_<name>/bin/run_in_env COMMAND`` in its own sandbox, where ``__vine_env_<name>``
is a symbolic link to the cached directory. TaskVine itself is not packaged here (CI cannot
build it), so the test runs exactly these commands."""

from __future__ import annotations

import ast
import json
import os
import subprocess
from pathlib import Path

import pytest

from engines.conftest import EngineJob, check_code_dir, expected_value

pytestmark = [pytest.mark.engine, pytest.mark.slow]

MINI_TASK = "mkdir output && tar xf package.tar.gz -C output && output/bin/run_in_env"
TASKS = 4


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PKG_", "CONDA"))}


def _text_file_with_placeholder(prefix: Path) -> tuple[Path, bytes]:
    """A file conda-unpack rewrites in text mode (one of its records) and the placeholder
    (a build host's path) it still holds."""
    script = (prefix / "bin" / "conda-unpack").read_text()
    block = script.split("_prefix_records = [", 1)[1].split("\n]", 1)[0]
    for line in block.strip().splitlines():
        path, placeholder, mode = ast.literal_eval(line.rstrip(","))
        if mode == "text" and placeholder.encode() in (prefix / path).read_bytes():
            return prefix / path, placeholder.encode()
    raise AssertionError("no text file with a placeholder in the archive")


def _mini_task(engine_job: EngineJob, sandbox: Path) -> subprocess.CompletedProcess[str]:
    sandbox.mkdir()
    os.link(engine_job.archive, sandbox / "package.tar.gz")  # TaskVine hard-links inputs
    return subprocess.run(
        ["/bin/sh", "-c", MINI_TASK], cwd=sandbox, env=_clean_env(),
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_declare_poncho_runs_tasks_in_the_environment(engine_job: EngineJob, workdir: Path) -> None:
    """The mini task succeeds and leaves the environment unrelocated (it moves next); 4
    concurrent tasks through the link run task.py right, with numpy, yaml and helper from
    the cached directory; the first one relocated it there (conda-unpack once, recorded),
    and the command's exit status comes back."""
    proc = _mini_task(engine_job, workdir / "mini")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
    cached = workdir / "cache" / "poncho-env"
    cached.parent.mkdir()
    os.rename(workdir / "mini" / "output", cached)  # the worker's rename into its cache
    text_file, placeholder = _text_file_with_placeholder(cached)
    assert not (cached / ".pkgtool-relocated").exists()

    tasks = []
    for index in range(TASKS):
        sandbox = workdir / f"task-{index}"
        sandbox.mkdir()
        for name in ("task.py", "params.yaml"):
            os.link(workdir / name, sandbox / name)
        (sandbox / "__vine_env_x").symlink_to(cached)
        tasks.append(subprocess.Popen(
            ["/bin/sh", "-c", f"__vine_env_x/bin/run_in_env python3 task.py {index}"],
            cwd=sandbox, env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        ))  # fmt: skip
    for index, task in enumerate(tasks):
        out, err = task.communicate(timeout=120)
        assert task.returncode == 0, err
        result = json.loads(out)
        assert result["task"] == index and result["value"] == expected_value(index)
        assert Path(result["prefix"]) == cached, result
        for module in ("numpy", "yaml"):
            assert Path(result[module]).is_relative_to(cached / "lib"), result
        check_code_dir(result, cached)
    assert (cached / ".pkgtool-relocated").read_text() == f"{cached}\n"
    assert placeholder not in text_file.read_bytes()
    assert str(cached).encode() in text_file.read_bytes()
    status = subprocess.run(
        [cached / "bin" / "run_in_env", "sh", "-c", 'test "$CONDA_PREFIX" = "$0" && exit 7',
         str(cached)], env=_clean_env(), check=False,
    )  # fmt: skip
    assert status.returncode == 7


def test_moved_after_relocation_is_refused(engine_job: EngineJob, workdir: Path) -> None:
    """conda-unpack cannot run twice: an environment moved after its first command is
    refused with exit 125 and a hint, and runs nothing."""
    proc = _mini_task(engine_job, workdir / "mini")
    assert proc.returncode == 0, proc.stderr
    first = workdir / "mini" / "output"
    ran = subprocess.run(
        [first / "bin" / "run_in_env", "true"], env=_clean_env(), capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    moved = workdir / "moved"
    os.rename(first, moved)
    marker = workdir / "ran"
    proc = subprocess.run(
        [moved / "bin" / "run_in_env", "touch", marker], env=_clean_env(),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 125
    assert proc.stderr.startswith(f"run_in_env: error: the environment was relocated to {first}")
    assert "run_in_env: hint: unpack the archive again" in proc.stderr
    assert not marker.exists()
