"""README, --help and man pages agree."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]+")


def _help(*command: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "pkgtool", *command, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"},
        check=True,
    )
    return proc.stdout


@pytest.mark.parametrize(
    ("command", "page"),
    [
        ((), "pkg.1"),
        (("analyze",), "pkg-analyze.1"),
        (("lock",), "pkg-lock.1"),
        (("create",), "pkg-create.1"),
        (("run",), "pkg-run.1"),
    ],
)
def test_every_help_option_is_in_the_man_page(command: tuple[str, ...], page: str) -> None:
    options = set(OPTION.findall(_help(*command)))
    assert "--help" in options
    man = (ROOT / "man" / page).read_text().replace(r"\-", "-")
    missing = sorted(o for o in options if o not in man)
    assert not missing, f"{page} lacks {missing}"


def test_man_pages_render() -> None:
    for page in sorted((ROOT / "man").glob("*.1")):
        proc = subprocess.run(
            ["groff", "-man", "-Tutf8", "-ww", "-z", str(page)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0 and not proc.stderr.strip(), f"{page.name}: {proc.stderr}"


def test_readme_commands_match_ci() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_line = next(line for line in readme.splitlines() if "pytest" in line and "pip" in line)
    assert ".venv/bin/python -m pytest" in test_line
    assert ".venv/bin/python -m pytest" in ci
    assert "--local-python" in readme and "pkg run env.tar.gz" in readme
