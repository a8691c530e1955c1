"""Every archive name `pkg create` accepts runs end to end: through `pkg run`,
`python -m pkgtool.runner`, the sh runner under dash, and plain `tar x` + `conda-unpack`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest

from pkgtool.runner import runner_script

Pkg = Callable[..., CompletedProcess[str]]
pytestmark = pytest.mark.slow

FORMATS = (".tar.gz", ".tgz", ".tar.zst", ".sh")
PROBE = "import yaml, sys; print(yaml.safe_dump({'ok': sys.prefix == sys.base_prefix}).strip())"


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory, local_channel: Any, pkg: Pkg) -> Path:
    root = tmp_path_factory.mktemp("formats")
    spec = {
        "format": 1,
        "conda": {"channels": [local_channel.url], "dependencies": ["python", "pyyaml"]},
    }
    (root / "deps.json").write_text(json.dumps(spec))
    cache = root / "cache"
    for suffix in FORMATS:
        proc = pkg("create", "--cache-dir", cache, "deps.json", f"env{suffix}", cwd=root)
        assert proc.returncode == 0, proc.stderr
    shutil.rmtree(cache)
    return root


def _runner(kind: str, archive: Path, cache: Path) -> list[str]:
    if kind == "pkg run":
        return [sys.executable, "-m", "pkgtool", "run", "--cache-dir", str(cache), str(archive)]
    if kind == "python -m pkgtool.runner":
        return [sys.executable, "-m", "pkgtool.runner", "--cache-dir", str(cache), str(archive)]
    if kind == "self-extracting":
        return ["dash", str(archive), "--cache-dir", str(cache)]
    return ["dash", str(runner_script()), "--cache-dir", str(cache), str(archive)]


@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize("kind", ["pkg run", "python -m pkgtool.runner", "pkg-run.sh"])
def test_every_format_runs_through_every_runner(
    archives: Path, tmp_path: Path, suffix: str, kind: str
) -> None:
    archive = archives / f"env{suffix}"
    if suffix == ".sh" and kind == "pkg-run.sh":
        kind = "self-extracting"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    for attempt in ("cold", "warm"):
        proc = subprocess.run(
            [*_runner(kind, archive, tmp_path / "cache"), "python", "-c", PROBE],
            capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, f"{attempt}: {proc.stderr}"
        assert proc.stdout.strip() == "ok: true", proc.stdout


@pytest.mark.parametrize("suffix", [".tar.gz", ".tgz", ".tar.zst"])
def test_plain_tar_and_conda_unpack(archives: Path, tmp_path: Path, suffix: str) -> None:
    dest = tmp_path / "env"
    dest.mkdir()
    flag = "--zstd" if suffix == ".tar.zst" else "-z"
    subprocess.run(["tar", "-x", flag, "-f", str(archives / f"env{suffix}"), "-C", str(dest)],
                   check=True)  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    subprocess.run([str(dest / "bin" / "python"), str(dest / "bin" / "conda-unpack")],
                   check=True, env=env)  # fmt: skip
    proc = subprocess.run([str(dest / "bin" / "python"), "-c", PROBE], capture_output=True,
                          text=True, env=env, check=False)  # fmt: skip
    assert proc.stdout.strip() == "ok: true", proc.stderr


def test_self_extracting_archive_holds_the_tar_gz(archives: Path) -> None:
    data = (archives / "env.sh").read_bytes()
    assert data.startswith(b"#!/bin/sh")
    assert (archives / "env.tar.gz").read_bytes() in data
