"""README, --help and man pages agree."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pkgtool.errors import EXIT_RUNNER

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
        (("call",), "pkg-call.1"),
        (("inspect",), "pkg-inspect.1"),
        (("check-client",), "pkg-check-client.1"),
        (("cache", "list"), "pkg-cache.1"),
        (("cache", "prune"), "pkg-cache.1"),
        (("runner",), "pkg-runner.1"),
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


# --------------------------------------------------------------------------- doc commands

SHELL_OPERATORS = ("&&", "||", ";", "|", ">", ">>", "2>", "<")
PENDING: dict[str, str] = {
    # Subcommands the docs already show that land from other branches. xfail is strict:
    # once the command exists this test passes, the xfail fails, and the entry goes.
}


def _commands_in_readme(text: str) -> list[str]:
    """Every ``pkg`` command in README.md: lines of fenced and indented code blocks, and
    inline code spans that start with ``pkg `` (which may wrap across lines)."""
    found: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced or line.startswith("    "):
            found += _pkg_commands(line)
    for span in re.findall(r"`([^`]+)`", text.replace("```", "")):
        span = " ".join(span.split())
        if span.startswith("pkg "):
            found += _pkg_commands(span)
    return found


def _commands_in_man_examples(text: str) -> list[str]:
    """Every ``pkg`` command in the EXAMPLES section of a man page (``.nf`` blocks)."""
    text = text.replace(r"\-", "-").replace(r"\(aq", "'")
    section = (
        text.split(".SH EXAMPLES", 1)[1].split("\n.SH ", 1)[0] if ".SH EXAMPLES" in text else ""
    )
    return [c for line in section.splitlines() for c in _pkg_commands(line)]


def _pkg_commands(line: str) -> list[str]:
    """The ``pkg ...`` commands of one shell line: split at shell operators, comments
    dropped, each from the word ``pkg`` (or a path ending in ``/pkg``) on."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return []
    commands: list[str] = []
    current: list[str] | None = None
    for word in words:
        if word in SHELL_OPERATORS:
            if current:
                commands.append(shlex.join(current))
            current = None
        elif current is not None:
            current.append(word)
        elif word == "pkg" or word.endswith("/pkg"):
            current = ["pkg"]
    if current:
        commands.append(shlex.join(current))
    return commands


def _doc_commands() -> list[Any]:
    commands: dict[str, str] = {}
    for command in _commands_in_readme((ROOT / "README.md").read_text()):
        commands.setdefault(command, "README.md")
    for page in sorted((ROOT / "man").glob("*.1")):
        for command in _commands_in_man_examples(page.read_text()):
            commands.setdefault(command, page.name)
    params = []
    for command, source in commands.items():
        sub = shlex.split(command)[1:2]
        marks = []
        if sub and sub[0] in PENDING:
            marks.append(pytest.mark.xfail(strict=True, reason=PENDING[sub[0]]))
        params.append(pytest.param(command, id=f"{source}: {command}", marks=marks))
    return params


def _run_archive(args: list[str]) -> str:
    """The ARCHIVE of ``pkg run [--cache-dir DIR] ARCHIVE COMMAND...``."""
    while args and args[0].startswith("-"):
        args = args[2:] if args[0] == "--cache-dir" else args[1:]
    return args[0]


def test_the_docs_show_commands() -> None:
    commands = [p.values[0] for p in _doc_commands()]
    assert len(commands) >= 20, commands
    for sub in ("analyze", "create", "run", "inspect"):
        assert any(c.startswith(f"pkg {sub} ") for c in commands), sub


@pytest.mark.parametrize("command", _doc_commands())
def test_doc_command_parses(command: str, tmp_path: Path) -> None:
    """Each command of README.md and the man pages' EXAMPLES is one the real CLI accepts:
    run with ``--help`` appended (options and arguments are parsed, nothing is done), or,
    for ``pkg run`` (whose ``--help`` after ARCHIVE belongs to the command), executed in
    an empty directory, where it must fail on the missing archive, not on its syntax."""
    args = shlex.split(command)[1:]
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "PKG_CACHE_DIR": str(tmp_path / "c")}
    if args[:1] == ["run"]:
        proc = subprocess.run(
            [sys.executable, "-m", "pkgtool", *args],
            cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
        assert proc.returncode == EXIT_RUNNER, proc.stderr
        archive = _run_archive(args[1:])
        first = proc.stderr.splitlines()[0]
        assert archive in first and "usage" not in proc.stderr.lower(), proc.stderr
        return
    proc = subprocess.run(
        [sys.executable, "-m", "pkgtool", *args, "--help"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, f"{command}: {proc.stderr}"
    assert proc.stdout.startswith("Usage: pkg"), proc.stdout


def test_doc_command_check_catches_drift(tmp_path: Path) -> None:
    """The check above fails for a command the CLI does not accept (it is not vacuous)."""
    assert _pkg_commands("cd x && ../.venv/bin/pkg create --no-such a b > log  # c") == [
        "pkg create --no-such a b"
    ]
    for command in ("pkg create --no-such a b", "pkg no-such-command x"):
        with pytest.raises(AssertionError):
            test_doc_command_parses(command, tmp_path)
