"""Spark: examples/spark/submit.sh (the README's spark-submit command) on
``local-cluster[2,1,1024]``: the UDF runs on executor JVMs from the archive as Spark unpacked
it (``--archives env.tar.gz#environment``, no conda-unpack)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from engines.conftest import (
    EXAMPLES,
    EngineJob,
    expected_value,
    remove_tree,
    run_group,
    venv_bin,
)

pytestmark = [pytest.mark.engine, pytest.mark.slow]

SUBMIT = EXAMPLES / "spark" / "submit.sh"
TASKS = 20


@pytest.fixture(scope="session")
def pyspark_package() -> Path:
    """The pyspark package directory; skips (before the session's archive is built) without
    java or pyspark."""
    if shutil.which("java") is None:
        pytest.skip("Spark needs java (JRE 17+) on PATH; none here")
    pyspark = pytest.importorskip("pyspark", reason="pyspark (test extra) not installed")
    return Path(pyspark.__file__).parent


@pytest.fixture
def spark_env(pyspark_package: Path, workdir: Path) -> Iterator[dict[str, str]]:
    """Environment for submit.sh: no SPARK_HOME (submit.sh makes its own of links into the
    pyspark package, in SPARK_WORK_HOME), loopback, no web UIs, JVM options for short runs
    (test settings, not the example's)."""
    home = workdir / "spark-home"
    conf = workdir / "spark-conf"
    conf.mkdir()
    # Short-lived JVMs on a busy 2-core machine: the C1 compiler alone and the serial
    # collector cut Spark's CPU time by a third (measured: 49 s -> 31 s).
    jvm = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:CICompilerCount=1"
    (conf / "spark-defaults.conf").write_text(
        "spark.ui.enabled false\n"
        f"spark.driver.extraJavaOptions {jvm}\n"
        f"spark.executor.extraJavaOptions {jvm}\n"
    )
    (workdir / "spark-local").mkdir()
    yield {
        **{k: v for k, v in os.environ.items() if k != "SPARK_HOME"},
        "PATH": f"{venv_bin()}:{os.environ['PATH']}",  # python3 with pyspark, for the driver
        "SPARK_WORK_HOME": str(home),
        "SPARK_CONF_DIR": str(conf),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOCAL_DIRS": str(workdir / "spark-local"),
    }
    remove_tree(home / "work")  # the executors' unpacked archives: ~350 MB


def test_udf_on_executors_from_archive(
    pyspark_package: Path, spark_env: dict[str, str], engine_job: EngineJob, workdir: Path
) -> None:
    """20 UDF results right, each computed by an executor's ./environment/bin/python with
    numpy, yaml and helper from the unpacked archive, in SPARK_WORK_HOME/work and not in
    the pyspark package (the venv); the driver ran a local python3."""
    in_venv = pyspark_package / "work"
    before = sorted(in_venv.iterdir()) if in_venv.is_dir() else []
    proc = run_group(
        ["sh", str(SUBMIT), str(engine_job.archive), str(TASKS)],
        cwd=workdir, env=spark_env, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-5000:]
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [r["task"] for r in results] == list(range(TASKS)), proc.stdout
    work = Path(spark_env["SPARK_WORK_HOME"]) / "work"
    for result in results:
        assert result["value"] == expected_value(result["task"])
        prefix = Path(result["prefix"])
        # <SPARK_HOME>/work/<app id>/<executor id>/environment: an executor's copy
        assert prefix.name == "environment" and prefix.parent.parent.parent == work, prefix
        for module in ("numpy", "yaml"):
            assert Path(result[module]).is_relative_to(prefix / "lib"), result
        # no runner: the environment's code hook found <prefix>/pkgtool-code itself
        assert Path(result["code_dir"]) == prefix / "pkgtool-code", result
        assert Path(result["helper"]) == prefix / "pkgtool-code" / "helper.py", result
    after = sorted(in_venv.iterdir()) if in_venv.is_dir() else []
    assert after == before  # nothing written into the venv
