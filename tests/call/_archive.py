"""The one environment the pkg call tests build: examples/call as its README says
(``pkg analyze clean.py deps.json --function clean_data``, then ``pkg create``), plus the
tests' own functions (tests/cases/call/calltests.py, in the code layer) and the distribution
``pkgtool-test-temperature`` (tests/cases/call/temperature, a wheel built here and installed
in the pip layer), which declares a packager in the entry point group ``pkgtool.packagers``.

Python comes from the host interpreter (``--local-python``), pandas, pyarrow, numpy and
PyYAML from the package index. The build cache and the archive sit under the session's base
temporary directory, so the engine tests reuse them (a second fixture instance is a cache
hit)."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "call"
CASES = ROOT / "tests" / "cases" / "call"

Pkg = Callable[..., subprocess.CompletedProcess[str]]


class CallEnv(NamedTuple):
    """``archive`` (0644, in a directory every user can read), ``project``, the copy of
    examples/call it was built from (``data/`` holds the inputs), and the build ``cache``."""

    archive: Path
    project: Path
    cache: Path


def _wheel(dest: Path) -> Path:
    dest.mkdir(exist_ok=True)
    # setuptools from this venv when it has one, else pip fetches it from the index
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    argv = [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q", "-w", str(dest)]
    source = dest / "temperature-src"  # setuptools writes build/ into the project it builds
    shutil.copytree(CASES / "temperature", source, dirs_exist_ok=True)
    proc = subprocess.run(
        [*argv, str(source)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = dest.glob("pkgtool_test_temperature-*.whl")
    return wheel


def build(base: Path, host_python: Path, pkg: Pkg) -> CallEnv:
    """Build (or find, when this session built it already) the call tests' archive."""
    project = base / "call-project"
    archive = project / "env.tar.gz"
    cache = base / "call-build-cache"
    if archive.is_file():
        return CallEnv(archive, project, cache)
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("deps.json", "env.*", "out-*"))
    shutil.copy(CASES / "calltests.py", project)
    proc = pkg("analyze", "clean.py", "deps.json", "--function", "clean_data", cwd=project)
    assert proc.returncode == 0, proc.stderr
    spec = json.loads((project / "deps.json").read_text())
    pip = next(d for d in spec["conda"]["dependencies"] if isinstance(d, dict))["pip"]
    assert {"pandas", "pyarrow"} <= set(pip), spec  # the analysis found what parquet needs
    pip += ["numpy", "pyyaml", "pkgtool-test-temperature"]
    spec["code"]["include"].append("calltests.py")
    (project / "deps.json").write_text(json.dumps(spec))
    wheels = _wheel(base / "call-wheels").parent
    links = f"{os.environ.get('PIP_FIND_LINKS', '')} {wheels}".strip()
    proc = pkg(
        "create",
        "--local-python",
        host_python,
        "--cache-dir",
        base / "call-build-cache",
        "deps.json",
        "env.tar.gz",
        cwd=project,
        env={"PIP_FIND_LINKS": links},
    )
    assert proc.returncode == 0, proc.stderr
    for path in (base, project):
        path.chmod(0o755)
    archive.chmod(0o644)
    return CallEnv(archive, project, cache)


@pytest.fixture(scope="session")
def call_env(tmp_path_factory: pytest.TempPathFactory, host_python: Path, pkg: Pkg) -> CallEnv:
    """The call tests' archive, built once per session."""
    return build(tmp_path_factory.getbasetemp(), host_python, pkg)


def expected_rows(csv_file: Path, threshold: float = 0.5) -> list[dict[str, str]]:
    """clean_data's rows for ``csv_file``, by the csv module: complete, first of duplicates,
    score at least ``threshold``."""
    kept: list[dict[str, str]] = []
    with csv_file.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if all(row.values()) and row not in kept and float(row["score"]) >= threshold:
                kept.append(row)
    return kept
