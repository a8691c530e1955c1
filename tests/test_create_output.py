"""`pkg create` in a batch log (stderr not a terminal) and with --json."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

Pkg = Callable[..., CompletedProcess[str]]
STEP = re.compile(r"^\d\d:\d\d:\d\d \S.* \(\d+\.\d s\)$")


@pytest.mark.slow
def test_batch_log_lines_and_json_result(pkg: Pkg, tmp_path: Path, local_channel: object) -> None:
    url = local_channel.url  # type: ignore[attr-defined]
    spec = {
        "conda": {"dependencies": ["python=3.11", "pip", {"pip": ["six"]}]},
        "analysis": {"imports": [{"module": "six", "installer": "pip"}]},
    }
    (tmp_path / "deps.json").write_text(json.dumps(spec))
    proc = pkg(
        "create", "--json", "--channel", url, "--cache-dir", tmp_path / "cache",
        "deps.json", "env.tar.gz", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    steps, last = lines[:-1], lines[-1]
    assert len(steps) >= 4, proc.stderr
    assert all(STEP.match(line) for line in steps), proc.stderr
    assert any("installing 1 pip distribution (" in line for line in steps), proc.stderr
    assert any("checking 1 import in" in line for line in steps), proc.stderr
    assert not re.search(r"\b1 (\w+ )?\w+s\b", proc.stderr), proc.stderr
    assert last.startswith("wrote env.tar.gz (") and last.endswith("verified 1 import"), last
    result = json.loads(proc.stdout)
    assert result["format"] == 1
    assert result["archive"] == str(tmp_path / "env.tar.gz")
    assert result["lock"] == str(tmp_path / "env.lock.json")
    assert result["size"] == (tmp_path / "env.tar.gz").stat().st_size
    assert result["verified_imports"] == ["six"]
    assert result["platform"] and result["python"].startswith("3.11")
    assert [s["step"] for s in result["steps"]] == [line[9 : line.rindex(" (")] for line in steps]
    assert 0 < sum(s["seconds"] for s in result["steps"]) <= result["seconds"] + 1.0
