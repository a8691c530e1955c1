"""The README's set-up lines, run as written in a fresh virtual environment.

The first ``sh`` block of README.md is what a new user copies. It is run from a copy of the
project's files (git's tracked files, so the test never builds from a dirty ``build/``), with
``$HOME`` pointed at ``tmp_path``, and must give a working ``pkg`` without the setuptools
warnings pip used to print about the license table.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import pkgtool

ROOT = Path(__file__).resolve().parents[1]


def setup_block() -> str:
    """The first fenced ``sh`` block of README.md (the set-up lines)."""
    match = re.search(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert match, "README.md has no ```sh block"
    return match.group(1)


def project_copy(dest: Path) -> Path:
    """The files git tracks, copied to ``dest`` (the clone a user would have)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, target)
    return dest


def test_setup_block_installs_from_a_clone_not_from_an_unpublished_name() -> None:
    block = setup_block()
    assert "pip install pkgtool-batch" not in block  # nothing is published under that name
    assert "pip install ." in block


@pytest.mark.slow
def test_readme_setup_lines_give_a_working_pkg(tmp_path: Path) -> None:
    clone = project_copy(tmp_path / "clone")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env.update(HOME=str(home), PATH=os.defpath)
    script = f"set -e\n{setup_block()}\npkg --version\n"
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == f"pkgtool {pkgtool.__version__}"
    assert "License classifiers are deprecated" not in result.stderr
    assert "project.license" not in result.stderr
    assert (home / "pkg-venv" / "bin" / "pkg").exists()
