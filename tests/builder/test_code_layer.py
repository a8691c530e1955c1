"""Code as its own layer, with real builds: a code edit reuses the packed environment
without staging anything, the environment layer's bytes do not depend on the code, and the
code is importable (and its data files reachable) from a plain ``tar xf`` + conda-unpack and
through both runners."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest

from pkgtool.builder import _layers
from pkgtool.builder import cache as _cache
from pkgtool.builder.lock import Lock
from pkgtool.errors import EXIT_INPUT, EXIT_USAGE
from pkgtool.runner._layers import Index

Pkg = Callable[..., CompletedProcess[str]]
pytestmark = pytest.mark.slow

RUNNER_SH = Path(__file__).resolve().parents[2] / "src" / "pkgtool" / "runner" / "pkg-run.sh"

JOB = """\
import os
from importlib import resources

import yaml

import helpers

config = resources.files("helpers").joinpath("data/config.yaml").read_text()
run = open(os.path.join(os.environ["PKG_CODE_DIR"], "configs", "run.yaml")).read()
print(helpers.VERSION, yaml.safe_load(config)["n"], yaml.safe_load(run)["mode"])
"""


def _spec(channel: str) -> dict[str, Any]:
    return {
        "format": 1,
        "conda": {"channels": [channel], "dependencies": ["python", "pip", {"pip": ["pyyaml"]}]},
        "code": {"root": ".", "mode": "all", "include": ["*.py", "*.yaml"], "exclude": []},
        "analysis": {
            "python": None,
            "entry_points": ["job.py"],
            "imports": [
                {"module": "yaml", "distribution": "PyYAML", "version": None,
                 "installer": "pip", "optional": False, "sites": ["job.py:4"]},
                {"module": "helpers", "distribution": None, "version": None,
                 "installer": "local", "optional": False, "sites": ["job.py:6"]},
            ],
        },
    }  # fmt: skip


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, local_channel: Any) -> Path:
    root = tmp_path_factory.mktemp("codelayer")
    (root / "job.py").write_text(JOB)
    (root / "helpers" / "data").mkdir(parents=True)
    (root / "helpers" / "__init__.py").write_text("VERSION = 'v1'\n")
    (root / "helpers" / "data" / "config.yaml").write_text("n: 7\n")
    (root / "configs").mkdir()
    (root / "configs" / "run.yaml").write_text("mode: fast\n")
    (root / "deps.json").write_text(json.dumps(_spec(local_channel.url)))
    return root


def _create(pkg: Pkg, project: Path, cache: Path, out: str, *extra: str) -> dict[str, Any]:
    proc = pkg("create", "--cache-dir", cache, "deps.json", out, "--json", *extra, cwd=project,
               timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.fixture(scope="module")
def builds(project: Path, pkg: Pkg, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """v1 built cold; then the helper edited (v2), the spec's analysis changed as a new
    ``pkg analyze`` would change it (sites, entry points), and v2 built while the staging prefix
    of its conda layer is locked by this test: a build that tried to stage would wait on
    that lock until the timeout. Then v2 with ``--code none``."""
    cache = tmp_path_factory.mktemp("codelayer-cache")
    out: dict[str, Any] = {"v1": _create(pkg, project, cache, "v1.tar.gz")}
    conda_key = Lock.load(project / "v1.lock.json").conda_key()
    (project / "helpers" / "__init__.py").write_text("VERSION = 'v2'\n")
    spec = json.loads((project / "deps.json").read_text())  # as `pkg analyze` after the edit
    for record in spec["analysis"]["imports"]:
        record["sites"] = ["job.py:40", "helpers/__init__.py:3"]
    spec["analysis"]["entry_points"].append("other.py")
    (project / "deps.json").write_text(json.dumps(spec))
    with _staging_locked(conda_key):
        out["v2"] = _create(pkg, project, cache, "v2.tar.gz")
        out["v2.sh"] = _create(pkg, project, cache, "v2.sh")
        out["none"] = _create(pkg, project, cache, "none.tar.gz", "--code", "none")
    return out


@contextmanager
def _staging_locked(conda_key: str) -> Iterator[None]:
    prefix = _cache.staging_prefix(conda_key)
    lock_path = prefix.with_name(prefix.name[:40] + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)


def _index(path: Path) -> Index:
    index = _layers.read_index(path)
    assert index is not None
    return index


def test_code_edit_reuses_the_packed_environment(builds: dict[str, Any], project: Path) -> None:
    v1, v2 = builds["v1"], builds["v2"]
    assert not v1["cache_hit"] and v2["cache_hit"]
    assert [s["step"] for s in v2["steps"]] == [
        "reusing the packed environment layer", "writing the code layer (4 files)",
        "writing v2.tar.gz",
    ]  # fmt: skip
    a, b = _index(project / "v1.tar.gz"), _index(project / "v2.tar.gz")
    assert a.env == b.env
    code_a, code_b = a.code, b.code
    assert code_a is not None and code_b is not None and code_a.sha256 != code_b.sha256
    assert v1["code_hash"] != v2["code_hash"]
    assert v2["code_files"] == ["configs/run.yaml", "helpers/__init__.py",
                                "helpers/data/config.yaml", "job.py"]  # fmt: skip
    assert [layer["kind"] for layer in v2["layers"]] == ["env", "code", "end"]


def test_no_code_is_the_same_environment_layer(builds: dict[str, Any], project: Path) -> None:
    index = _index(project / "none.tar.gz")
    assert [r.kind for r in index.layers] == ["env", "end"]
    assert index.env == _index(project / "v1.tar.gz").env
    assert builds["none"]["code_files"] == [] and builds["none"]["code_hash"] is None


def test_archive_is_one_tar_stream_with_the_code_manifest(project: Path) -> None:
    with tarfile.open(project / "v2.tar.gz") as tar:  # reads the members as one archive
        names = tar.getnames()
        member = tar.extractfile("pkgtool-code/.pkgtool-code.json")
        assert member is not None
        manifest = json.loads(member.read())
    assert names[0] == ".pkgtool/layers"
    assert "pkgtool-code/helpers/__init__.py" in names and ".pkgtool/manifest.json" in names
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    import hashlib

    assert listed["helpers/__init__.py"] == hashlib.sha256(b"VERSION = 'v2'\n").hexdigest()


def test_plain_tar_and_conda_unpack_import_the_code(project: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    prefix.mkdir()
    subprocess.run(["tar", "xf", project / "v2.tar.gz", "-C", prefix], check=True)
    subprocess.run([prefix / "bin" / "python", prefix / "bin" / "conda-unpack"], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PKG_"))}
    proc = subprocess.run(
        [prefix / "bin" / "python", project / "job.py"],
        cwd=elsewhere, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["v2", "7", "fast"]


@pytest.mark.parametrize("runner", ["pkg run", "pkg-run.sh", "env.sh"])
def test_runners_give_the_new_code(project: Path, tmp_path: Path, runner: str) -> None:
    """A node that ran v1 runs v2 with v2's code, and v1 still gets v1's. The job script
    is a copy away from the project, whose own helpers (v2) would come first on sys.path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PKG_"))}
    cache = tmp_path / "cache"
    job = tmp_path / "job.py"
    job.write_text(JOB)

    def run(archive: str) -> list[str]:
        if runner == "pkg run":
            cmd: list[Any] = [sys.executable, "-m", "pkgtool", "run", "--cache-dir", cache,
                              project / archive]  # fmt: skip
        elif runner == "pkg-run.sh":
            cmd = ["dash", RUNNER_SH, "--cache-dir", cache, project / archive]
        else:
            archive = archive.replace(".tar.gz", ".sh") if archive == "v2.tar.gz" else archive
            cmd = (
                [project / archive, "--cache-dir", cache]
                if archive.endswith(".sh")
                else ["dash", RUNNER_SH, "--cache-dir", cache, project / archive]
            )
        proc = subprocess.run([*cmd, "python", job], cwd=tmp_path, env=env,
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split()

    assert run("v1.tar.gz") == ["v1", "7", "fast"]
    assert run("v2.tar.gz") == ["v2", "7", "fast"]
    assert run("v1.tar.gz") == ["v1", "7", "fast"]
    # one environment directory, shared by the two code versions
    kinds = sorted(
        (d / ".pkgtool-ready").read_text().splitlines()[2]
        for d in cache.iterdir()
        if (d / ".pkgtool-ready").is_file()
    )
    assert kinds == ["code", "code", "env"]


def test_code_errors_are_input_errors(project: Path, pkg: Pkg, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    proc = pkg("create", "--cache-dir", cache, "deps.json", "x.tar.gz", "--include", "*.cfg",
               cwd=project)  # fmt: skip
    assert proc.returncode == EXIT_INPUT, proc.stderr
    assert "error: code.include pattern '*.cfg' matches no file" in proc.stderr
    assert "hint:" in proc.stderr and not (project / "x.tar.gz").exists()
    proc = pkg("create", "--cache-dir", cache, "deps.json", "x.tar.gz", "--code-root", tmp_path,
               "--code", "all", cwd=project)  # fmt: skip
    assert proc.returncode == EXIT_INPUT and "outside the project" in proc.stderr, proc.stderr
    proc = pkg("create", "--cache-dir", cache, "deps.json", "x.tar.gz", "--code", "none",
               "--exclude", "x", cwd=project)  # fmt: skip
    assert proc.returncode == EXIT_USAGE and "--code none" in proc.stderr, proc.stderr
    assert not (project / "x.tar.gz").exists() and not (project / "x.lock.json").exists()
