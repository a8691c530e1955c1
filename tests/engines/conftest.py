"""Fixtures of the batch-engine tests (``-m engine``): one archive built per session through
the command line from ``examples/job`` (+ the Dask client), a directory other users can read,
and a private Slurm started and stopped by this session.

The engines come from Debian packages and PyPI (``.ci/run`` installs them); a test whose
engine is missing here is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from engines import _probe, _slurm
from pkgtool.runner import MARKER, environment_id

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
JOB_FILES = ("task.py", "params.yaml")
"""What a job ships beside the archive: the script and its input, never ``helper.py``."""

Pkg = Callable[..., subprocess.CompletedProcess[str]]

CLIENTS = {"dask": "job.py", "parsl": "run.py", "submitit": "run.py"}
"""The clients analysed with task.py (examples/job/README.md), so that the environment has
their engines' and cloudpickle's exact versions."""


class EngineJob(NamedTuple):
    """The examples' job, built once: ``archive`` (mode 0644 in a world-readable directory),
    its runner ``env_id``, and ``project`` (the copy of ``examples/`` it was built from)."""

    archive: Path
    env_id: str
    project: Path


def _work_area_parent() -> str:
    """/dev/shm when it has room, else /tmp. Node caches on tmpfs are common on clusters;
    here they keep the tests' many unpacked environments (~170 MB, 5,700 files each) from
    making the run IO-bound on a shared disk (``rm -rf`` of one took 8.5 s on /tmp)."""
    try:
        if shutil.disk_usage("/dev/shm").free > 4 << 30:
            return "/dev/shm"
    except OSError:
        pass
    return "/tmp"


@pytest.fixture(scope="session")
def public_dir() -> Iterator[Path]:
    """A work area that every user can traverse (pytest's tmp_path is 0700), removed at the
    end of the session."""
    path = Path(tempfile.mkdtemp(prefix="pkgtool-engines-", dir=_work_area_parent()))
    path.chmod(0o755)
    try:
        yield path
    finally:
        remove_tree(path)


class Builder(NamedTuple):
    """Builds archives of the session from one copy of examples/ (``project``) with one
    build cache, through the command line."""

    project: Path
    cache: Path
    public_dir: Path
    host_python: Path
    pkg: Pkg

    def build(self, name: str, clients: list[str], suffix: str = ".tar.gz") -> EngineJob:
        """``pkg analyze task.py CLIENTS... NAME.json`` then ``pkg create --local-python``
        in ``project/job``; the archive is copied to ``public_dir/NAME<suffix>``. The spec
        gets one extra variable unique to the session, so that no other run's environment
        shares this archive's id (the Work Queue test uses the machine's default root)."""
        job = self.project / "job"
        proc = self.pkg("analyze", "task.py", *clients, f"{name}.json", cwd=job)
        assert proc.returncode == 0, proc.stderr
        spec = json.loads((job / f"{name}.json").read_text())
        spec.setdefault("env", {})["PKGTOOL_ENGINE_TEST_SESSION"] = uuid.uuid4().hex
        (job / f"{name}.json").write_text(json.dumps(spec))
        proc = self.pkg(
            "create", "--local-python", self.host_python, "--cache-dir", self.cache,
            f"{name}.json", f"{name}{suffix}", cwd=job,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        archive = self.public_dir / f"{name}{suffix}"
        shutil.copyfile(job / f"{name}{suffix}", archive)
        archive.chmod(0o644)
        return EngineJob(archive, environment_id(archive), self.project)


@pytest.fixture(scope="session")
def builder(
    tmp_path_factory: pytest.TempPathFactory, public_dir: Path, host_python: Path, pkg: Pkg
) -> Builder:
    """A copy of examples/ and a build cache for the session's archives (the second
    archive reuses the first one's conda layer)."""
    project = tmp_path_factory.mktemp("examples")
    built_here = shutil.ignore_patterns("*.json", "env*.tar.*", "__pycache__")
    for name in ("job", *CLIENTS, "ray"):
        shutil.copytree(EXAMPLES / name, project / name, ignore=built_here)
    cache = tmp_path_factory.mktemp("engine-build-cache")
    return Builder(project, cache, public_dir, host_python, pkg)


@pytest.fixture(scope="session")
def engine_job(builder: Builder) -> EngineJob:
    """The archive every engine test but Ray's runs, built once: ``pkg analyze task.py
    ../dask/job.py ../parsl/run.py ../submitit/run.py env.json`` then ``pkg create
    --local-python ... env.json env.tar.gz``, as examples/job/README.md says (its spec is
    ``deps.json``)."""
    clients = [f"../{name}/{script}" for name, script in CLIENTS.items()]
    return builder.build("env", clients)


@pytest.fixture
def workdir(public_dir: Path, request: pytest.FixtureRequest) -> Path:
    """A fresh world-readable directory for one test, holding the job's files (no helper)."""
    test_name: str = request.node.name
    path = public_dir / "work" / test_name.replace("/", "_")
    path.mkdir(parents=True)
    path.parent.chmod(0o755)
    path.chmod(0o755)
    for name in JOB_FILES:
        shutil.copy(EXAMPLES / "job" / name, path / name)
    return path


@pytest.fixture
def probe(workdir: Path) -> _probe.Probe:
    """The extraction probe of one test (:mod:`engines._probe`): put ``probe.bin`` first on
    the jobs' PATH, count with ``probe.extractions(cache_root)``."""
    return _probe.make_probe(workdir / "probe")


@pytest.fixture(scope="session")
def slurm_cluster(public_dir: Path) -> Iterator[_slurm.Slurm]:
    """A private single-node Slurm (root only: slurmd runs jobs as their users)."""
    missing = _slurm.missing_binaries()
    if missing:
        pytest.skip(f"Slurm not installed (no {', '.join(missing)}): .ci/run installs it")
    if os.geteuid() != 0:
        pytest.skip("the private Slurm needs root (slurmd starts jobs as their users)")
    host = socket.gethostname().split(".")[0]
    try:
        socket.gethostbyname(host)
    except OSError:
        pytest.skip(f"host name {host!r} does not resolve; .ci/run adds it to /etc/hosts")
    root = public_dir / "slurm"
    root.mkdir(mode=0o755)
    with _slurm.running_slurm(root) as cluster:
        yield cluster


@pytest.fixture
def slurm(slurm_cluster: _slurm.Slurm) -> Iterator[_slurm.Slurm]:
    """The session's Slurm with an empty queue: jobs an earlier test left (a Parsl block, a
    worker job) are cancelled before and after each test, so none waits for their CPUs."""
    slurm_cluster.cancel_all()
    yield slurm_cluster
    slurm_cluster.cancel_all()


def remove_tree(path: Path) -> None:
    """``rm -rf path``: several times faster than shutil.rmtree on unpacked environments."""
    rm = shutil.which("rm") or "/bin/rm"
    subprocess.run([rm, "-rf", "--", str(path)], check=False)


def ready_environments(cache_root: Path) -> list[Path]:
    """The ready environments (directories with the runner's completion marker) in a cache
    root: one per extraction that completed and was kept. Code layers, which have a marker
    too (its third line says ``code``, docs/runner.md), are not environments."""
    if not cache_root.is_dir():
        return []
    return sorted(
        p for p in cache_root.iterdir()
        if (p / MARKER).is_file() and (p / MARKER).read_text().splitlines()[2:3] != ["code"]
    )  # fmt: skip


def expected_value(index: int, scale: float = 2.0) -> float:
    """task.py's result for ``index`` with examples/job/params.yaml (scale 2.0)."""
    return scale * sum(k * k for k in range(index + 1))


def check_result(line: str, index: int, prefix: Path) -> None:
    """Assert that one output line of task.py is task ``index``'s right value, computed by
    Python, numpy and PyYAML from the environment at ``prefix`` and ``helper`` from the
    archive's code layer: ``<prefix>/pkgtool-code`` (plain tar) or the code layer the
    runner unpacked beside the environment in the same cache root."""
    result = json.loads(line)
    assert isinstance(result, dict), line
    assert result["task"] == index
    assert result["value"] == expected_value(index)
    assert Path(result["prefix"]) == prefix
    for module in ("numpy", "yaml"):
        assert Path(result[module]).is_relative_to(prefix / "lib"), (module, result[module])
    check_code_dir(result, prefix)


def check_code_dir(result: dict[str, str], prefix: Path) -> None:
    """``helper`` came from ``$PKG_CODE_DIR``, the archive's code layer for ``prefix``."""
    code_dir = Path(result["code_dir"])
    assert code_dir.name == "pkgtool-code", result
    assert code_dir == prefix / "pkgtool-code" or code_dir.parent.parent == prefix.parent, result
    assert Path(result["helper"]) == code_dir / "helper.py", result


def venv_bin() -> str:
    """The directory of this interpreter's scripts (``pkg``), for PATH."""
    return str(Path(sys.executable).parent)


def run_group(
    argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in its own process group; on timeout kill the whole group (the JVMs and
    workers it started) before failing, so that nothing outlives the test."""
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{argv[0]} took over {timeout} s\n{err[-3000:]}") from None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # leftovers of a finished command, if any
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)
