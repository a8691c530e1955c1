"""``tools/check_mapping.py``: real wheels from the package index, real subprocesses."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "check_mapping.py"


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_mapping", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("check_mapping", module)
    spec.loader.exec_module(module)
    return module


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *args], capture_output=True, text=True, check=False
    )


def write_table(path: Path, mapping: dict[str, dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"format": 2, "version": "test", "mapping": mapping}))
    return path


def docs(distribution: str) -> dict[str, Any]:
    return {"distribution": distribution, "source": "docs", "ref": "test"}


# ------------------------------------------------------------------ offline: wheel reading


def test_import_names_from_record_paths() -> None:
    tool = load_tool()
    wheel = tool.Wheel.from_files(
        "x-1-py3-none-any.whl",
        "1",
        [
            "google/cloud/storage/__init__.py",
            "google/cloud/storage/blob.py",
            "google/cloud/_storage_v2/__init__.py",
            "mpl_toolkits/mplot3d/__init__.py",
            "pkg/__init__.py",
            "pkg/_ext.cpython-311-x86_64-linux-gnu.so",
            "single.py",
            "_private.abi3.so",
            "x-1.dist-info/RECORD",
            "x.libs/libfoo.so",
            "../../bin/script",
        ],
    )
    assert wheel.roots == {
        "google.cloud.storage",
        "google.cloud._storage_v2",
        "mpl_toolkits.mplot3d",
        "pkg",
        "single",
        "_private",
    }
    assert wheel.provides("google.cloud.storage.blob")
    assert wheel.provides("google.cloud")  # a namespace the wheel extends
    assert not wheel.provides("google.cloud.bigquery")


def test_top_level_txt_and_declared_namespaces() -> None:
    tool = load_tool()
    wheel = tool.Wheel.from_files(
        "zope.interface-6-cp311-cp311-linux_x86_64.whl",
        "6",
        ["zope/__init__.py", "zope/interface/__init__.py", "zope/interface/ro.py"],
        top_level=["zope"],
        declared_namespaces=["zope"],
    )
    assert wheel.roots == {"zope.interface"}


def test_compare_reports_both_kinds_of_mismatch(tmp_path: Path) -> None:
    tool = load_tool()
    table = tool.Table.load(
        write_table(tmp_path / "t.json", {"yaml": docs("python-dateutil"), "six": docs("six")})
    )
    wheel = tool.Wheel.from_files("d-1-py3-none-any.whl", "1", ["dateutil/__init__.py"])
    assert tool.compare("python-dateutil", wheel, table) == [
        "table maps 'yaml' to python-dateutil but its wheel provides no such module",
        "wheel provides 'dateutil' but the table has no entry for it",
    ]


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run_tool().returncode == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": 1, "mapping": {}}')
    proc = run_tool("--table", str(bad), "PyYAML")
    assert proc.returncode == 2
    assert "not a mapping table of format 2" in proc.stderr


# ------------------------------------------------------------------ the package index


@pytest.mark.slow
def test_real_table_matches_real_wheels() -> None:
    proc = run_tool("PyYAML", "python-dateutil", "beautifulsoup4")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("ok: PyYAML ") and "yaml" in line for line in lines)
    assert any(line.startswith("ok: python-dateutil ") and "dateutil" in line for line in lines)
    assert any(line.startswith("ok: beautifulsoup4 ") and "bs4" in line for line in lines)


@pytest.mark.slow
def test_wrong_table_exits_1_with_clear_messages(tmp_path: Path) -> None:
    table = write_table(tmp_path / "wrong.json", {"yaml": docs("python-dateutil")})
    proc = run_tool("--table", str(table), "--json", "python-dateutil")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["format"] == 1
    (result,) = report["results"]
    assert result["status"] == "mismatch"
    assert result["problems"] == [
        "table maps 'yaml' to python-dateutil but its wheel provides no such module",
        "wheel provides 'dateutil' but the table has no entry for it",
    ]


@pytest.mark.slow
def test_record_marks_consistent_entries_as_wheel_verified(tmp_path: Path) -> None:
    table = write_table(
        tmp_path / "t.json", {"yaml": docs("PyYAML"), "_yaml": docs("PyYAML"), "x": docs("other")}
    )
    proc = run_tool("--table", str(table), "--record", "PyYAML")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    mapping = json.loads(table.read_text())["mapping"]
    assert mapping["yaml"]["source"] == "wheel" and mapping["yaml"]["checked"]
    assert "ref" not in mapping["yaml"]
    assert mapping["x"] == docs("other")


@pytest.mark.slow
def test_missing_distribution_exits_4() -> None:
    proc = run_tool("surely-not-a-real-distribution-4711")
    assert proc.returncode == 4
    assert proc.stdout.startswith("failed: surely-not-a-real-distribution-4711: ")


# ------------------------------------------------------------------ mining


def test_top_distributions_by_download_rank(tmp_path: Path) -> None:
    tsv = tmp_path / "pypi.tsv"
    tsv.write_text(
        "name\tversion\tmonth\trank_among_15000_most_downloaded\tsummary\n"
        "six\t1.17\t2024-12\t20\tPython 2 and 3 compatibility\n"
        "boto3\t1.35\t2024-12\t1\tAWS SDK\n"
        "obscure\t0.1\t2020-01\t\tnot ranked\n"
        "urllib3\t2.3\t2024-12\t3\tHTTP\n"
    )
    tool = load_tool()
    assert tool.top_distributions(tsv, 2) == [(1, "boto3"), (3, "urllib3")]


def test_conflicts_follow_the_documented_rule(tmp_path: Path) -> None:
    tool = load_tool()
    table = tool.Table.load(write_table(tmp_path / "t.json", {"cv2": docs("opencv-python")}))
    mined = [
        tool.Mined("opencv-python-headless", 40, "4.10", roots=("cv2",)),
        tool.Mined("attrs", 30, "24.2", roots=("attr", "attrs")),
        tool.Mined("attr", 900, "0.3", roots=("attr",)),
        tool.Mined("pkgtool-b", 12, "1", roots=("pkgtool_shared",)),
        tool.Mined("pkgtool-a", 11, "1", roots=("pkgtool_shared",)),
        tool.Mined("pkgtool-ns", 5, "1", roots=("pkgtool_ns.portion", "typing")),
    ]
    counts = tool.merge_mined(table, mined)
    mapping = table.raw["mapping"]
    # a hand-chosen entry stays; the other provider is listed under ``also``
    assert mapping["cv2"]["distribution"] == "opencv-python"
    assert mapping["cv2"]["also"] == ["opencv-python-headless"]
    # the more downloaded distribution wins (attrs ships ``attr`` too)
    assert mapping["attr"]["distribution"] == "attrs"
    assert mapping["attr"]["also"] == ["attr"]
    assert mapping["pkgtool_shared"]["distribution"] == "pkgtool-a"
    assert mapping["pkgtool_ns.portion"] == {
        "checked": "1",
        "distribution": "pkgtool-ns",
        "source": "wheel",
    }
    # a standard-library name (a backport's) is never mapped to a distribution
    assert "typing" not in mapping
    assert counts["skipped_stdlib"] == 1


@pytest.mark.slow
def test_mine_reads_wheels_with_range_requests(tmp_path: Path) -> None:
    tool = load_tool()
    mined = tool.mine_one(7, "PyYAML")
    assert mined.reason == "" and mined.wheel.endswith(".whl")
    assert "yaml" in mined.roots
    protobuf = tool.mine_one(9, "protobuf")
    assert "google.protobuf" in protobuf.roots and "google" not in protobuf.roots
    missing = tool.mine_one(99, "pkgtool-no-such-distribution-on-the-index")
    assert missing.reason.startswith("PyPI JSON API")
