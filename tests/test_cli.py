"""The command line as people meet it: help, usage errors, colour, completion."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from pkgtool.errors import EXIT_USAGE

Pkg = Callable[..., CompletedProcess[str]]
COMMANDS = ((), ("analyze",), ("create",), ("run",), ("call",))
PLAIN = {"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"}


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_no_type_placeholders_and_proper_usage(pkg: Pkg, command: tuple[str, ...]) -> None:
    proc = pkg(*command, "--help", env=PLAIN)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert not re.search(r"<(bool|int|str|path|list)", text), text
    assert "{" not in text.splitlines()[0], text
    assert text.startswith(f"Usage: pkg {' '.join(command)}".rstrip() + " ")
    assert max(len(line) for line in text.splitlines()) <= 80


def test_usage_lines_name_the_arguments(pkg: Pkg) -> None:
    usage = {c: pkg(c, "--help", env=PLAIN).stdout.splitlines()[0] for c in ("analyze", "create")}
    assert usage["analyze"] == "Usage: pkg analyze [OPTIONS] SCRIPT... OUT"
    assert usage["create"] == "Usage: pkg create [OPTIONS] SPEC OUT"


def test_help_paragraphs_are_reflowed_and_defaults_shown(pkg: Pkg) -> None:
    text = pkg("analyze", "--help", env={**PLAIN, "COLUMNS": "100"}).stdout
    paragraph = text.split("\n\n")[2].splitlines()
    assert paragraph[0].startswith("  A SCRIPT may be"), text
    # Reflowed to the width: no ragged short lines before the paragraph's last one.
    assert all(len(line) > 80 for line in paragraph[:-1]), paragraph
    create = pkg("create", "--help", env={**PLAIN, "COLUMNS": "200"}).stdout
    assert "--compress-level N" in create and "[default: 4]" in create
    assert "[default: $PKG_BUILD_CACHE_DIR or ~/.cache/pkgtool]" in create


@pytest.mark.parametrize("debug", [(), ("--debug",)])
@pytest.mark.parametrize(
    ("args", "culprit"),
    [
        (("analyze", "--bogus", "a.py", "out.json"), "--bogus"),
        (("analyze",), "SCRIPT"),
        (("create", "deps.json"), "OUT"),
        (("create", "--compress-level", "20", "deps.json", "e.tar.gz"), "--compress-level"),
        (("create", "--channel"), "--channel"),
        (("no-such-command",), "no-such-command"),
        (("--bogus",), "--bogus"),
    ],
)
def test_usage_errors_are_one_error_and_one_hint(
    pkg: Pkg, tmp_path: Path, debug: tuple[str, ...], args: tuple[str, ...], culprit: str
) -> None:
    proc = pkg(*debug, *args, cwd=tmp_path, env=PLAIN)
    lines = proc.stderr.splitlines()
    assert proc.returncode == EXIT_USAGE, proc.stderr
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith("error: ") and culprit in lines[0], lines
    assert lines[1].startswith("hint: ") and "--help" in lines[1], lines
    assert "--debug" not in lines[1]
    assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_unknown_option_suggests_the_close_one(pkg: Pkg) -> None:
    proc = pkg("analyze", "--jsn", "a.py", "out.json", env=PLAIN)
    assert proc.stderr.splitlines()[1].startswith("hint: did you mean --json?")


@pytest.mark.parametrize("out", ["missing-dir/deps.json", "a-directory"])
def test_unwritable_output_is_a_usage_error(pkg: Pkg, tmp_path: Path, out: str) -> None:
    (tmp_path / "a.py").write_text("import os\n")
    (tmp_path / "a-directory").mkdir()
    proc = pkg("analyze", "a.py", out, cwd=tmp_path, env=PLAIN)
    lines = proc.stderr.splitlines()
    assert proc.returncode == EXIT_USAGE, proc.stderr
    assert len(lines) == 2 and out.split("/")[0] in lines[0], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-directory", "a.py"]


def test_with_debug_a_traceback_then_error_and_hint_without_debug(pkg: Pkg, tmp_path: Path) -> None:
    (tmp_path / "deps.json").write_text('{"conda": {"dependencies": ["python"]}, "colour": 1}')
    proc = pkg("--debug", "create", "deps.json", "e.tar.gz", cwd=tmp_path, env=PLAIN)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 3
    assert "Traceback" in proc.stderr
    assert lines[-2].startswith("error: ") and "'colour'" in lines[-2]
    assert lines[-1].startswith("hint: ") and "--debug" not in lines[-1]


def test_no_color_means_no_style_codes(pkg: Pkg, tmp_path: Path) -> None:
    forced = {"FORCE_COLOR": "1", "COLUMNS": "80", "TERM": "xterm-256color"}
    styled = pkg("create", "missing.json", "e.tar.gz", cwd=tmp_path, env=forced)
    assert "\x1b[" in styled.stderr  # the check below is not vacuous
    plain = pkg("create", "missing.json", "e.tar.gz", cwd=tmp_path, env={**forced, "NO_COLOR": "1"})
    assert plain.returncode == styled.returncode
    assert "\x1b[" not in plain.stderr, repr(plain.stderr)
    (tmp_path / "a.py").write_text("import yaml\n")
    table = pkg("analyze", "a.py", "-", cwd=tmp_path, env={**forced, "NO_COLOR": "1"})
    assert table.returncode == 0, table.stderr
    assert "imports" in table.stderr and "\x1b[" not in table.stderr


def test_findings_table_keeps_file_names_whole_at_80_columns(pkg: Pkg, tmp_path: Path) -> None:
    helpers = tmp_path / "helpers_for_the_measurement_campaign"
    helpers.mkdir()
    (helpers / "__init__.py").write_text("")
    (helpers / "calibration_of_the_detector_array.py").write_text("import yaml\n")
    (tmp_path / "process_the_measurements.py").write_text(
        "import numpy\nfrom helpers_for_the_measurement_campaign import "
        "calibration_of_the_detector_array\n"
    )
    proc = pkg(
        "analyze", "process_the_measurements.py", "deps.json",
        cwd=tmp_path, env={**PLAIN, "PKG_TABLE": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert max(len(line) for line in lines) <= 80, proc.stderr
    for name in ("process_the_measurements.py:1", "calibration_of_the_detector_array.py:1"):
        assert any(name in line for line in lines), proc.stderr


def test_show_completion_for_each_shell(pkg: Pkg) -> None:
    # Typer detects the shell from the parent process; this variable makes the option
    # take the shell's name instead, so each shell's script can be checked here.
    env = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    expected = {"bash": "complete -o default", "zsh": "compdef", "fish": "complete --command pkg"}
    for shell, marker in expected.items():
        proc = pkg("--show-completion", shell, env=env)
        assert proc.returncode == 0, proc.stderr
        assert marker in proc.stdout and "_PKG_COMPLETE" in proc.stdout, proc.stdout


def test_completion_completes_commands_and_options(pkg: Pkg) -> None:
    proc = pkg(env={"_PKG_COMPLETE": "complete_bash", "COMP_WORDS": "pkg cr", "COMP_CWORD": "1"})
    assert proc.stdout.split() == ["create"], proc.stderr
    proc = pkg(
        env={"_PKG_COMPLETE": "complete_bash", "COMP_WORDS": "pkg create --lo", "COMP_CWORD": "2"}
    )
    assert proc.stdout.split() == ["--local-python", "--lock"], proc.stderr


def test_install_completion_in_bash(pkg: Pkg, tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash on this machine")
    proc = subprocess.run(
        [bash, "-c", f"'{sys.executable}' -m pkgtool --install-completion"],
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    script = tmp_path / ".bash_completions" / "pkg.sh"
    assert "_PKG_COMPLETE" in script.read_text()
    assert str(script) in (tmp_path / ".bashrc").read_text()


def test_hints_never_suggest_debug_once_it_is_on() -> None:
    # The library's hints are written for a run without --debug (pip_layer, _rattler);
    # the CLI drops that advice when --debug is on. A pure function, tested as one.
    from pkgtool.cli import _without_debug

    assert _without_debug("run again with --debug for pip's output") == (
        "the traceback above shows where it failed"
    )
    assert _without_debug("run again with --debug; if it persists, report it with the spec") == (
        "if it persists, report it with the spec"
    )
    assert _without_debug("create it first") == "create it first"
    assert _without_debug(None) is None
