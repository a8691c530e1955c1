"""End to end: analyze -> create -> copy elsewhere -> run, with real rattler, pip,
conda-pack, tar and subprocesses (conda-pack's ``test_roundtrip`` is the model)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess
from typing import NamedTuple

import pytest

from pkgtool.builder.cache import STAGING_PREFIX_LENGTH
from pkgtool.runner import check_link, runner_script

CASES = Path(__file__).parent / "cases"
EXPECTED = "mean=2.5 n=4"

Pkg = Callable[..., CompletedProcess[str]]
pytestmark = pytest.mark.slow


class Built(NamedTuple):
    project: Path
    spec: dict[str, object]
    archive: Path
    lock: Path
    build_prefix: str


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, local_channel: object, pkg: Pkg) -> Built:
    """The multi-file case analysed and built once: numpy from the local conda channel,
    PyYAML through the pip layer; then the whole build cache is deleted."""
    project = tmp_path_factory.mktemp("project") / "multifile"
    shutil.copytree(CASES / "multifile", project)
    proc = pkg("analyze", "analysis.py", "deps.json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    spec = json.loads((project / "deps.json").read_text())
    deps = spec["conda"]["dependencies"]
    pip = next(d for d in deps if isinstance(d, dict))["pip"]
    numpy = next(r for r in pip if r.lower().startswith("numpy"))
    pip.remove(numpy)
    deps.insert(1, "numpy")
    spec["env"] = {"PKGTOOL_GREETING": "hello 'node' $HOME"}
    (project / "deps.json").write_text(json.dumps(spec))
    cache = tmp_path_factory.mktemp("build-cache")
    url = local_channel.url  # type: ignore[attr-defined]
    proc = pkg(
        "create", "--channel", url, "--cache-dir", cache, "deps.json", "env.tar.gz",
        cwd=project,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    shutil.rmtree(cache)
    with tarfile.open(project / "env.tar.gz") as tar:
        member = tar.extractfile("bin/conda-unpack")
        assert member is not None
        unpack_script = member.read().decode()
    build_prefix = re.search(r"/tmp/pkgtool-build-[0-9a-f]{16}-[\w]*", unpack_script)
    assert build_prefix is not None
    assert not Path(build_prefix.group(0)).exists(), "the staging prefix must be gone"
    return Built(
        project, spec, project / "env.tar.gz", project / "env.lock.json", build_prefix.group(0)
    )


def test_build_prefix_is_padded(built: Built) -> None:
    assert len(built.build_prefix) >= STAGING_PREFIX_LENGTH


@pytest.mark.parametrize("runner", ["pkg run", "pkg-run.sh"])
def test_run_elsewhere_in_a_longer_path(
    built: Built, pkg: Pkg, tmp_path: Path, runner: str
) -> None:
    far = tmp_path / ("elsewhere-" * 20)
    far.mkdir()
    shutil.copy(built.archive, far / "env.tar.gz")
    shutil.copy(built.project / "analysis.py", far / "analysis.py")
    cache = far / "node-cache"
    assert len(str(cache)) > len(built.build_prefix)

    def run(*command: str) -> CompletedProcess[str]:
        if runner == "pkg run":
            return pkg("run", "--cache-dir", cache, "env.tar.gz", *command, cwd=far)
        return subprocess.run(
            ["sh", str(runner_script()), "--cache-dir", str(cache), "env.tar.gz", *command],
            cwd=far, capture_output=True, text=True, check=False,
        )  # fmt: skip

    proc = run("python3", "analysis.py")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == EXPECTED
    # The command's status passes through.
    assert run("python3", "-c", "exit(3)").returncode == 3
    assert run("no-such-command-pkgtool").returncode == 127


def test_plain_tar_and_conda_unpack_without_pkgtool(built: Built, tmp_path: Path) -> None:
    prefix = tmp_path / ("plain-" * 30) / "env"
    prefix.mkdir(parents=True)
    subprocess.run(["tar", "-xzf", str(built.archive), "-C", str(prefix)], check=True)
    env = {"PATH": f"{prefix / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    subprocess.run(["conda-unpack"], cwd=prefix, env=env, check=True)
    script = built.project / "analysis.py"
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(script, work)
    proc = subprocess.run(
        ["python", "analysis.py"], cwd=work, env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == EXPECTED
    probe = subprocess.run(
        ["python", "-c", "import sys, numpy; print(sys.prefix); print(numpy.__file__)"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert probe.stdout.split() == [str(prefix), str(next(prefix.rglob("numpy/__init__.py")))]


def test_second_run_does_not_extract(built: Built, pkg: Pkg, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = pkg("run", "--cache-dir", cache, built.archive, "python3", "-c", "print(1)")
    assert first.returncode == 0, first.stderr
    # the environment; a layered archive's code layer is a directory of its own beside it
    (ready,) = [p for p in cache.iterdir() if p.is_dir() and (p / "bin").is_dir()]
    # A file the archive does not have survives only if the second run did not extract.
    sentinel = ready / "sentinel-from-test"
    sentinel.write_text("still here")
    marker_mtime = (ready / ".pkgtool-ready").stat().st_mtime_ns
    second = pkg(
        "run", "--cache-dir", cache, built.archive, "python3", "analysis.py",
        cwd=built.project,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == EXPECTED
    assert sentinel.read_text() == "still here"
    assert (ready / ".pkgtool-ready").stat().st_mtime_ns == marker_mtime


def test_lock_and_manifest(built: Built) -> None:
    lock = json.loads(built.lock.read_text())
    names = {p["name"] for p in lock["conda"]}
    assert {"python", "numpy"} <= names
    assert all(len(p["sha256"]) == 64 and p["url"] for p in lock["conda"])
    assert [p["name"].lower() for p in lock["pip"]] == ["pyyaml"]
    assert len(lock["pip"][0]["sha256"]) == 64
    with tarfile.open(built.archive) as tar:
        member = tar.extractfile(".pkgtool/manifest.json")
        assert member is not None
        manifest = json.loads(member.read())
    assert manifest["lock"] == lock
    assert manifest["platform"] == lock["platform"] == "linux-64"
    assert {"numpy", "yaml"} <= set(manifest["verified_imports"])
    # local modules travel in the code layer, checked for presence, not imported at build
    assert not {"helpers", "plugins"} & set(manifest["verified_imports"])
    assert "scipy" not in manifest["verified_imports"]  # optional import, not installed
    assert manifest["spec"]["conda"] == built.spec["conda"]
    assert not [s for s in _strings(manifest["spec"]) if os.path.isabs(s)]


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_every_link_in_the_archive_is_accepted_by_the_runners(built: Built) -> None:
    with tarfile.open(built.archive) as tar:
        links = [(m.name, m.linkname) for m in tar.getmembers() if m.issym()]
    assert links, "python's bin/python3 -> python3.11 links are expected"
    for name, target in links:
        check_link(name, target)


@pytest.mark.parametrize("runner", ["pkg run", "pkg-run.sh"])
def test_spec_env_is_set_on_activation(built: Built, pkg: Pkg, tmp_path: Path, runner: str) -> None:
    probe = "import os, sys; print(os.environ['PKGTOOL_GREETING']); print(sys.prefix)"
    cache = tmp_path / "cache"
    if runner == "pkg run":
        proc = pkg("run", "--cache-dir", cache, built.archive, "python", "-c", probe,
                   env={"PYTHONPATH": "/nowhere"})  # fmt: skip
    else:
        proc = subprocess.run(
            ["sh", str(runner_script()), "--cache-dir", str(cache), str(built.archive),
             "python", "-c", probe],
            capture_output=True, text=True, check=False,
            env={**os.environ, "PYTHONPATH": "/nowhere"},
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    greeting, prefix = proc.stdout.splitlines()
    assert greeting == "hello 'node' $HOME"  # literal: quoting survives activation
    assert Path(prefix).parent == cache


def test_create_from_the_lock_installs_exactly_the_locked_packages(
    built: Built, pkg: Pkg, tmp_path: Path
) -> None:
    proc = pkg(
        "create", "--lock", built.lock, "--cache-dir", tmp_path / "cache",
        built.project / "deps.json", tmp_path / "again.tar.gz",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "again.lock.json").read_text()) == json.loads(
        built.lock.read_text()
    )
