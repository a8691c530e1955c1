"""pkg call end to end on the session's real environment (pandas, pyarrow, numpy, PyYAML,
a packager from an installed distribution), through both runners: ``pkg call`` (the Python
runner) and ``pkg-run.sh ARCHIVE python3 -m pkgtool_call`` (the sh runner). Every call runs
in a work directory holding only its inputs: the functions come from the code layer."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from call._archive import CallEnv, expected_rows
from pkgtool.runner import runner_script

pytestmark = pytest.mark.slow

Pkg = Callable[..., subprocess.CompletedProcess[str]]
EXAMPLE_CALL = (
    "clean:clean_data",
    "--input",
    "raw_data=data/raw-1.csv",
    "--input",
    "threshold=0.5",
    "--returns",
    "row_count, cleaned: dataset[format=parquet]",
    "--out",
    "out-1",
)
"""examples/call/README.md's call."""


@pytest.fixture
def work(tmp_path: Path, call_env: CallEnv) -> Path:
    shutil.copytree(call_env.project / "data", tmp_path / "data")
    return tmp_path


def _runner_env(tmp_path: Path) -> dict[str, str]:
    return {"PKG_CACHE_DIR": str(tmp_path.parent / "call-node-cache")}


def _pkg_call(pkg: Pkg, env: CallEnv, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return pkg("call", env.archive, *args, cwd=cwd, env=_runner_env(cwd))


def _sh_call(env: CallEnv, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = ["dash", str(runner_script()), str(env.archive), "python3", "-m", "pkgtool_call"]
    return subprocess.run(
        [*argv, *args],
        cwd=cwd,
        env={**os.environ, **_runner_env(cwd)},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def _manifest(out: Path) -> list[dict[str, object]]:
    outputs: list[dict[str, object]] = json.loads((out / "outputs.json").read_text())["outputs"]
    for entry in outputs:
        data = (out / str(entry["path"])).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), entry
        assert entry["size"] == len(data), entry
    return outputs


def _rows(path: Path) -> list[tuple[str, float]]:
    with path.open(newline="") as fh:
        return [(r["sample"], float(r["score"])) for r in csv.DictReader(fh)]


@pytest.mark.parametrize("runner", ["pkg call", "pkg-run.sh"])
def test_the_example_call(pkg: Pkg, call_env: CallEnv, work: Path, runner: str) -> None:
    if runner == "pkg call":
        proc = _pkg_call(pkg, call_env, work, *EXAMPLE_CALL)
    else:
        proc = _sh_call(call_env, work, *EXAMPLE_CALL)
    assert proc.returncode == 0, proc.stderr
    out = work / "out-1"
    expected = expected_rows(work / "data" / "raw-1.csv")
    assert json.loads((out / "results.json").read_text()) == {"row_count": len(expected)}
    assert [(o["name"], o["kind"], o["path"]) for o in _manifest(out)] == [
        ("row_count", "result", "results.json"),
        ("cleaned", "dataset", "cleaned.parquet"),
    ]
    assert (out / "cleaned.parquet").read_bytes()[:4] == b"PAR1"
    # the parquet file read back by pyarrow in the environment, written again as CSV
    proc = _pkg_call(
        pkg,
        call_env,
        work,
        "clean:clean_data",
        "-i",
        "raw_data=out-1/cleaned.parquet",
        "-i",
        "threshold=0",
        "-r",
        "n, again: dataset[format=csv]",
        "-o",
        "back",
    )
    assert proc.returncode == 0, proc.stderr
    assert _rows(work / "back" / "again.csv") == [
        (r["sample"], float(r["score"])) for r in expected
    ]


def test_numpy_and_yaml_inputs_and_a_tuple_return(pkg: Pkg, call_env: CallEnv, work: Path) -> None:
    np.save(work / "samples.npy", np.arange(6, dtype=np.float64))
    np.savez(work / "weights.npz", w=np.full(6, 0.5))
    (work / "config.yaml").write_text("scale: 3\nnote: yaml\n")
    proc = _pkg_call(
        pkg,
        call_env,
        work,
        "calltests:summarize",
        "-i",
        "samples=samples.npy",
        "-i",
        "weights=weights.npz",
        "-i",
        "config=config.yaml",
        "-i",
        "label=first",
        "--returns",
        "total, scaled: file[format=npz], info: file[format=yaml]",
        "-o",
        "out",
    )
    assert proc.returncode == 0, proc.stderr
    out = work / "out"
    assert [o["path"] for o in _manifest(out)] == ["results.json", "scaled.npz", "info.yaml"]
    assert json.loads((out / "results.json").read_text()) == {"total": 0.5 * 3 * 15}
    with np.load(out / "scaled.npz") as scaled:
        assert scaled["array"].tolist() == [0.0, 3.0, 6.0, 9.0, 12.0, 15.0]
    info = yaml.safe_load((out / "info.yaml").read_text())
    assert info == {"label": "first", "n": 6, "keys": ["note", "scale"]}


def test_a_packager_from_an_installed_distribution(pkg: Pkg, call_env: CallEnv, work: Path) -> None:
    (work / "now.temp").write_text("293.15 K\n")
    proc = _pkg_call(
        pkg,
        call_env,
        work,
        "calltests:warm",
        "-i",
        "reading=now.temp",
        "-i",
        "by=1",
        "-r",
        "later: reading[digits=1]",
        "-o",
        "out",
    )
    assert proc.returncode == 0, proc.stderr
    (entry,) = _manifest(work / "out")
    assert (entry["name"], entry["kind"], entry["path"]) == ("later", "reading", "later.temp")
    assert (work / "out" / "later.temp").read_text() == "294.1 K\n"
    (work / "bad.temp").write_text("20 C\n")
    proc = _pkg_call(pkg, call_env, work, "calltests:warm", "-i", "reading=bad.temp", "-i", "by=1")
    assert proc.returncode == 2
    assert (
        "cannot read 'bad.temp' as temperature.Temperature (from .temp): "
        "'bad.temp' is not in kelvin" in proc.stderr
    )


@pytest.mark.parametrize("runner", ["pkg call", "pkg-run.sh"])
def test_a_bad_input_is_exit_2_before_the_call(
    pkg: Pkg, call_env: CallEnv, work: Path, runner: str
) -> None:
    args = ("calltests:count", "-i", "n=many", "-i", "marker=called", "-o", "out")
    proc = (
        _pkg_call(pkg, call_env, work, *args)
        if runner == "pkg call"
        else _sh_call(call_env, work, *args)
    )
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert errors == [
        "pkgtool_call: error: parameter 'n' of calltests:count: cannot read 'many' as int: "
        "invalid literal for int() with base 10: 'many'"
    ]
    assert not (work / "called").exists() and not (work / "out").exists()


@pytest.mark.parametrize("runner", ["pkg call", "pkg-run.sh"])
def test_a_raising_function_is_exit_1(pkg: Pkg, call_env: CallEnv, work: Path, runner: str) -> None:
    (work / "out").mkdir()
    (work / "out" / "outputs.json").write_text('{"format": 1, "outputs": []}')  # a stale one
    args = ("calltests:fails", "-i", "rows=3", "-o", "out")
    proc = (
        _pkg_call(pkg, call_env, work, *args)
        if runner == "pkg call"
        else _sh_call(call_env, work, *args)
    )
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert 'raise RuntimeError(f"cannot handle {rows} rows")' in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert errors == [
        "pkgtool_call: error: calltests:fails raised RuntimeError: cannot handle 3 rows"
    ]
    assert not (work / "out" / "outputs.json").exists()


def test_a_self_extracting_env_sh(
    pkg: Pkg, call_env: CallEnv, work: Path, host_python: Path
) -> None:
    """``./env.sh python3 -m pkgtool_call``: the same spec built as env.sh (a build cache
    hit: the environment layer is reused), the call module is in it too."""
    proc = pkg(
        "create",
        "--local-python",
        host_python,
        "--cache-dir",
        call_env.cache,
        call_env.project / "deps.json",
        work / "env.sh",
        cwd=call_env.project,
    )
    assert proc.returncode == 0, proc.stderr
    (work / "config.json").write_text('{"scale": 2}')
    np.save(work / "samples.npy", np.ones(3))
    proc = subprocess.run(
        [
            "./env.sh",
            "python3",
            "-m",
            "pkgtool_call",
            "calltests:summarize",
            "-i",
            "samples=samples.npy",
            "-i",
            "weights=samples.npy",
            "-i",
            "config=config.json",
            "-r",
            "total, scaled, info",
            "-o",
            "out",
        ],
        cwd=work,
        env={**os.environ, **_runner_env(work)},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads((work / "out" / "results.json").read_text())
    assert results == {"total": 6.0, "info": {"label": "run", "n": 3, "keys": ["scale"]}}
    assert np.load(work / "out" / "scaled.npy").tolist() == [2.0, 2.0, 2.0]
