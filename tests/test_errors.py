"""Bad input: one `error:` line naming the culprit, a `hint:`, the exit code, no output."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from pkgtool.errors import EXIT_INPUT, EXIT_RESOLUTION, EXIT_RUNNER, EXIT_USAGE

Pkg = Callable[..., CompletedProcess[str]]


# `pkg create` off a terminal logs each finished step before an error ends the build.
STEP = re.compile(r"^\d\d:\d\d:\d\d .* \(\d+\.\d s\)$")


def _assert_clean_failure(proc: CompletedProcess[str], code: int, culprit: str) -> None:
    lines = [line for line in proc.stderr.strip().splitlines() if not STEP.match(line)]
    assert proc.returncode == code, proc.stderr
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith("error: ") and culprit in lines[0], lines[0]
    assert lines[1].startswith("hint: "), lines[1]
    assert proc.stdout == ""


def _only(directory: Path, *names: str) -> None:
    assert sorted(p.name for p in directory.iterdir()) == sorted(names)


def test_analyze_missing_script(pkg: Pkg, tmp_path: Path) -> None:
    proc = pkg("analyze", "nope.py", "deps.json", cwd=tmp_path)
    _assert_clean_failure(proc, EXIT_INPUT, "nope.py")
    _only(tmp_path)


def test_analyze_syntax_error_names_file_and_line(pkg: Pkg, tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text("import yaml\n")
    (tmp_path / "bad.py").write_text("import os\n\ndef f(:\n    pass\n")
    (tmp_path / "worse.py").write_text("print 'python 2'\n")
    proc = pkg("analyze", "good.py", "bad.py", "worse.py", "deps.json", cwd=tmp_path)
    _assert_clean_failure(proc, EXIT_INPUT, "bad.py:3")
    assert "worse.py:1" in proc.stderr  # the other files were analysed too
    _only(tmp_path, "good.py", "bad.py", "worse.py")


def _spec(tmp_path: Path, data: dict[str, object]) -> Path:
    path = tmp_path / "deps.json"
    path.write_text(json.dumps(data))
    return path


def test_create_unknown_key(pkg: Pkg, tmp_path: Path) -> None:
    _spec(tmp_path, {"format": 1, "conda": {"dependencies": ["python"]}, "colour": "blue"})
    proc = pkg("create", "deps.json", "env.tar.gz", cwd=tmp_path)
    _assert_clean_failure(proc, EXIT_INPUT, "'colour'")
    _only(tmp_path, "deps.json")


@pytest.mark.slow
def test_create_unsolvable_conda_package(pkg: Pkg, tmp_path: Path, local_channel: object) -> None:
    url = local_channel.url  # type: ignore[attr-defined]
    _spec(tmp_path, {"conda": {"dependencies": ["python=3.11", "no-such-package-pkgtool"]}})
    proc = pkg(
        "create", "--channel", url, "--cache-dir", tmp_path / "cache", "deps.json", "env.tar.gz",
        cwd=tmp_path,
    )  # fmt: skip
    _assert_clean_failure(proc, EXIT_RESOLUTION, "no-such-package-pkgtool")
    assert url in proc.stderr  # the channels searched are named
    _only(tmp_path, "deps.json", "cache")
    assert not list((tmp_path / "cache").glob("staging-*"))


@pytest.mark.slow
def test_create_missing_pip_package(pkg: Pkg, tmp_path: Path, local_channel: object) -> None:
    url = local_channel.url  # type: ignore[attr-defined]
    _spec(
        tmp_path,
        {"conda": {"dependencies": ["python=3.11", {"pip": ["pkgtool-no-such-dist-xyz==1.0"]}]}},
    )
    proc = pkg(
        "create", "--channel", url, "--cache-dir", tmp_path / "cache", "deps.json", "env.tar.gz",
        cwd=tmp_path,
    )  # fmt: skip
    _assert_clean_failure(proc, EXIT_RESOLUTION, "pkgtool-no-such-dist-xyz")
    _only(tmp_path, "deps.json", "cache")
    assert not list((tmp_path / "cache").glob("staging-*"))


def test_run_missing_archive(pkg: Pkg, tmp_path: Path) -> None:
    proc = pkg("run", "--cache-dir", tmp_path / "cache", "missing.tar.gz", "true", cwd=tmp_path)
    _assert_clean_failure(proc, EXIT_RUNNER, "missing.tar.gz")


def test_create_refuses_distribution_python(pkg: Pkg, tmp_path: Path) -> None:
    if not Path("/usr/bin/python3").exists():
        pytest.skip("no distribution python at /usr/bin/python3 on this machine")
    _spec(tmp_path, {"conda": {"dependencies": ["python"]}})
    proc = pkg(
        "create", "--local-python", "/usr/bin/python3", "--cache-dir", tmp_path / "cache",
        "deps.json", "env.tar.gz", cwd=tmp_path,
    )  # fmt: skip
    _assert_clean_failure(proc, EXIT_INPUT, "/usr/bin/python3")
    assert not (tmp_path / "env.tar.gz").exists()


@pytest.mark.parametrize(
    ("spec", "culprit"),
    [
        ("[1, 2]", "JSON array"),
        ('{"pip": ["six"], "pinned": [1]}', "'pinned'"),
        ('{"pip": ["six"], "pinned": {"pip": ["six"]}}', "'pinned.pip'"),
        ('{"conda": {"packages": ["numpy"]}, "pinned": {"conda": {"numpy": 1}}}', "numpy"),
        ('{"pip": "six"}', "'pip'"),
        ('{"pip": ["six", "not a requirement!"]}', "not a requirement!"),
        (
            '{"conda": {"dependencies": ["python"]}, '
            '"analysis": {"imports": [{"module": "yaml", "sites": "a.py:1"}]}}',
            "'analysis.imports[0].sites'",
        ),
        (
            '{"conda": {"dependencies": ["python"]}, '
            '"analysis": {"imports": [{"module": "yaml", "optional": "no"}]}}',
            "'analysis.imports[0].optional'",
        ),
    ],
)
def test_create_malformed_spec_parts(pkg: Pkg, tmp_path: Path, spec: str, culprit: str) -> None:
    (tmp_path / "deps.json").write_text(spec)
    proc = pkg("create", "deps.json", "env.tar.gz", cwd=tmp_path)
    _assert_clean_failure(proc, EXIT_INPUT, culprit)
    _only(tmp_path, "deps.json")


def test_analyze_function_that_does_not_exist(pkg: Pkg, tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text("import os\n\ndef main():\n    import yaml\n")
    proc = pkg("analyze", "--function", "mian", "job.py", "deps.json", cwd=tmp_path)
    _assert_clean_failure(proc, EXIT_USAGE, "mian")
    assert "main" in proc.stderr.splitlines()[1]  # the functions there are named
    _only(tmp_path, "job.py")
    ok = pkg("analyze", "--function", "main", "job.py", "deps.json", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize("channel", ["http://127.0.0.1:9/channel", "file:///nonexistent/channel"])
def test_create_unreachable_channel(pkg: Pkg, tmp_path: Path, channel: str) -> None:
    _spec(tmp_path, {"conda": {"dependencies": ["python=3.11"]}})
    proc = pkg(
        "create", "--channel", channel, "--cache-dir", tmp_path / "cache",
        "deps.json", "env.tar.gz", cwd=tmp_path,
    )  # fmt: skip
    _assert_clean_failure(proc, EXIT_RESOLUTION, "cannot reach channel " + channel)
    hint = proc.stderr.splitlines()[1]
    assert "--local-python" in hint and "--channel" in hint
    assert "looser version" not in hint
    _only(tmp_path, "deps.json", "cache")
    assert not list((tmp_path / "cache").glob("staging-*"))


def test_create_binary_spec(pkg: Pkg, tmp_path: Path) -> None:
    (tmp_path / "deps.json").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    proc = pkg("create", "deps.json", "env.tar.gz", cwd=tmp_path)
    _assert_clean_failure(proc, EXIT_INPUT, "deps.json: not a text file")
    _only(tmp_path, "deps.json")


def test_create_unusable_cache_dir(pkg: Pkg, tmp_path: Path) -> None:
    _spec(tmp_path, {"conda": {"dependencies": ["python"]}})
    (tmp_path / "a-file").write_text("")
    proc = pkg("create", "--cache-dir", "a-file/cache", "deps.json", "env.tar.gz", cwd=tmp_path)
    _assert_clean_failure(proc, EXIT_USAGE, "a-file/cache")
    _only(tmp_path, "deps.json", "a-file")
