"""`pkg create --include-optional` installs and verifies optional imports; without it
they are neither installed nor checked."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

Pkg = Callable[..., CompletedProcess[str]]
pytestmark = pytest.mark.slow

SCRIPT = """\
import yaml

try:
    import six
except ImportError:
    six = None

print("six" if six else "no six")
"""


def _manifest(archive: Path) -> dict[str, object]:
    with tarfile.open(archive) as tar:
        member = tar.extractfile(".pkgtool/manifest.json")
        assert member is not None
        data: dict[str, object] = json.loads(member.read())
        return data


def test_optional_imports_on_request(pkg: Pkg, tmp_path: Path, local_channel: object) -> None:
    url = local_channel.url  # type: ignore[attr-defined]
    (tmp_path / "job.py").write_text(SCRIPT)
    proc = pkg("analyze", "job.py", "deps.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    imports = json.loads((tmp_path / "deps.json").read_text())["analysis"]["imports"]
    assert next(r for r in imports if r["module"] == "six")["optional"] is True
    common = ("--channel", url, "--cache-dir", tmp_path / "cache")
    proc = pkg("create", *common, "deps.json", "plain.tar.gz", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    plain = _manifest(tmp_path / "plain.tar.gz")
    assert "six" not in plain["verified_imports"]  # type: ignore[operator]
    assert "six" not in json.dumps(plain["lock"])
    proc = pkg("create", *common, "--include-optional", "deps.json", "full.tar.gz", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    full = _manifest(tmp_path / "full.tar.gz")
    assert "six" in full["verified_imports"]  # type: ignore[operator]
    pip = full["lock"]["pip"]  # type: ignore[index]
    assert "six" in {p["name"].lower() for p in pip}
    run = pkg("run", "--cache-dir", tmp_path / "node", "full.tar.gz", "python", "job.py",
              cwd=tmp_path)  # fmt: skip
    assert (run.returncode, run.stdout.strip()) == (0, "six"), run.stderr
