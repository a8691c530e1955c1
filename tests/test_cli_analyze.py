"""`pkg analyze` as a user runs it: the table, --json, --keep-going."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

Pkg = Callable[..., CompletedProcess[str]]


def _project(tmp_path: Path) -> Path:
    (tmp_path / "job.py").write_text("import numpy\nimport helper\n")
    (tmp_path / "helper.py").write_text("try:\n    import scipy\nexcept ImportError:\n    pass\n")
    return tmp_path


def test_table_on_stderr_spec_on_stdout(pkg: Pkg, tmp_path: Path) -> None:
    proc = pkg("analyze", "job.py", "-", cwd=_project(tmp_path), env={"PKG_TABLE": "1"})
    assert proc.returncode == 0, proc.stderr
    spec = json.loads(proc.stdout)
    assert spec["format"] == 1
    header = next(line for line in proc.stderr.splitlines() if "distribution" in line)
    for column in ("import", "version", "installer", "where"):
        assert column in header
    assert any("scipy" in line and "optional" in line for line in proc.stderr.splitlines())
    assert any("helper" in line and "local" in line for line in proc.stderr.splitlines())


def test_json_report(pkg: Pkg, tmp_path: Path) -> None:
    proc = pkg("analyze", "--json", "job.py", "deps.json", cwd=_project(tmp_path))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["format"] == 1
    assert {r["module"] for r in report["imports"]} == {"numpy", "helper", "scipy"}
    assert report["problems"] == []
    assert report["spec"] == json.loads((tmp_path / "deps.json").read_text())


def test_json_and_stdout_spec_conflict(pkg: Pkg, tmp_path: Path) -> None:
    proc = pkg("analyze", "--json", "job.py", "-", cwd=_project(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "--json" in proc.stderr


def test_keep_going_writes_the_spec_and_warns(pkg: Pkg, tmp_path: Path) -> None:
    _project(tmp_path)
    (tmp_path / "old.py").write_text("import yaml\nprint 'python 2'\n")
    proc = pkg("analyze", "--keep-going", "job.py", "old.py", "deps.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "warning: old.py:2" in proc.stderr
    spec = json.loads((tmp_path / "deps.json").read_text())
    modules = {r["module"] for r in spec["analysis"]["imports"]}
    assert {"numpy", "helper", "yaml"} <= modules  # yaml recovered from old.py's tokens
    assert "(1 import recovered)" in proc.stderr


def test_python2_module_is_a_note_only_a_named_script_stops(pkg: Pkg, tmp_path: Path) -> None:
    # issue 23: one Python 2 file in a project no longer loses the whole analysis
    _project(tmp_path)
    (tmp_path / "job.py").write_text("import numpy\nimport old\n")
    (tmp_path / "old.py").write_text("import yaml\nprint 'python 2'\n")
    proc = pkg("analyze", "job.py", "deps.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "warning: old.py:2: syntax error" in proc.stderr
    assert "note: old.py:2: old: Python 2 file (print statement): 1 imports recovered" in (
        proc.stderr
    )
    spec = json.loads((tmp_path / "deps.json").read_text())
    assert {"numpy", "old", "yaml"} <= {r["module"] for r in spec["analysis"]["imports"]}
    named = pkg("analyze", "old.py", "other.json", cwd=tmp_path)
    assert named.returncode == 3, named.stderr
    assert named.stderr.startswith("error: old.py:2: syntax error")
    assert not (tmp_path / "other.json").exists()


def test_findings_and_environment_are_reported(pkg: Pkg, tmp_path: Path) -> None:
    # a Python 2/3 shim (aboul3la/Sublist3r) and a relative import in a plain script
    (tmp_path / "job.py").write_text(
        "import sys\n"
        "if sys.version > '3':\n    import urllib.parse as urlparse\n"
        "else:\n    import urlparse\n"
        "from .settings import DEBUG\n"
    )
    env = {"PKG_TABLE": "1", "VIRTUAL_ENV": sys.prefix, "CONDA_PREFIX": ""}
    proc = pkg("analyze", "job.py", "-", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if line.startswith("note: ")]
    assert notes == [
        "note: job.py:5: urlparse: Python 2 module, not in Python "
        f"{sys.version_info[0]}.{sys.version_info[1]}'s standard library",
        "note: job.py:6: .settings: relative import cannot be followed (no parent package)",
    ]
    venv = Path(sys.prefix).name
    assert f"imports (versions from VIRTUAL_ENV: {venv} (Python " in proc.stderr
    spec = json.loads(proc.stdout)
    assert spec["analysis"]["environment"].startswith(f"VIRTUAL_ENV: {venv} (Python ")
    assert spec["conda"]["dependencies"] == [f"python={sys.version_info[0]}.{sys.version_info[1]}"]
    report = pkg("analyze", "--json", "job.py", "deps.json", cwd=tmp_path, env=env)
    assert [f["module"] for f in json.loads(report.stdout)["findings"]] == ["urlparse", ".settings"]
