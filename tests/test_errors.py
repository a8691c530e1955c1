"""Bad input: one `error:` line naming the culprit, a `hint:`, the exit code, no output."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from pkgtool._files import MAX_NOTEBOOK, MAX_SOURCE
from pkgtool._reqfile import MAX_DEPTH
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


# --------------------------------------------------------------------------- OUT (issue 17)

OUT_COMMANDS = {
    "analyze": ("analyze", "job.py"),
    "lock": ("lock", "deps.json"),
    "create": ("create", "deps.json"),
    "runner": ("runner",),
}


def _project(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text("import yaml\n")
    _spec(tmp_path, {"conda": {"dependencies": ["python", {"pip": ["six"]}]}})


def _char_device(path: Path) -> None:
    """A character device like /dev/full (1, 7), made in the test's own directory."""
    if os.geteuid() != 0:
        pytest.skip("mknod needs root")
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 7))


def _make_out(tmp_path: Path, kind: str, suffix: str) -> tuple[str, Callable[[], bool]]:
    """OUT of ``kind`` in ``tmp_path`` (names ending in ``suffix``) and a check that it is
    still what it was."""
    target = tmp_path / f"target{suffix}"
    out = f"out{suffix}"
    if kind in ("device", "link-to-device"):
        _char_device(target)
        still: Callable[[], bool] = lambda: stat.S_ISCHR(os.lstat(target).st_mode)  # noqa: E731 - a one-line check
    elif kind in ("fifo", "link-to-fifo"):
        os.mkfifo(target)
        still = lambda: stat.S_ISFIFO(os.lstat(target).st_mode)  # noqa: E731 - a one-line check
    elif kind == "directory":
        target.mkdir()
        still = lambda: target.is_dir() and not any(target.iterdir())  # noqa: E731 - a one-line check
    elif kind == "link-to-proc":
        os.symlink("/proc/self/fd/1", tmp_path / out)
        return out, lambda: (tmp_path / out).is_symlink()
    else:  # dangling link
        os.symlink("nowhere", tmp_path / out)
        return out, lambda: (tmp_path / out).is_symlink() and not (tmp_path / "nowhere").exists()
    if kind.startswith("link-to-"):
        os.symlink(target.name, tmp_path / out)
        return out, still
    return target.name, still


@pytest.mark.parametrize("command", sorted(OUT_COMMANDS))
@pytest.mark.parametrize(
    "kind",
    ["device", "link-to-device", "fifo", "link-to-fifo", "directory", "link-to-proc", "dangling"],
)
def test_out_that_is_not_a_regular_file(pkg: Pkg, tmp_path: Path, command: str, kind: str) -> None:
    """OUT a device, FIFO, directory or a link to one (or into /proc, or dangling) is exit 2
    naming it, before any work, and left as it was."""
    if command == "runner" and kind == "directory":
        pytest.skip("pkg runner writes DEST/pkg-run.sh into a directory, by design")
    _project(tmp_path)
    out, unchanged = _make_out(tmp_path, kind, ".tar.gz" if command == "create" else ".json")
    proc = _pkg_out(pkg, tmp_path, command, out)
    culprit = "target" if kind.endswith(("device", "fifo", "directory")) else out
    _assert_clean_failure(proc, EXIT_USAGE, culprit)
    assert unchanged()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file


def _pkg_out(pkg: Pkg, tmp_path: Path, command: str, out: str) -> CompletedProcess[str]:
    cache = ("--cache-dir", str(tmp_path.parent / f"{tmp_path.name}-cache"))
    options = cache if command in ("lock", "create") else ()
    return pkg(*OUT_COMMANDS[command], out, *options, cwd=tmp_path, timeout=300)


def test_out_symlink_to_a_regular_file_is_followed(pkg: Pkg, tmp_path: Path) -> None:
    """A link (of the caller's) to a regular file: the target gets the spec, the link stays."""
    _project(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "real.json").write_text("old\n")
    os.symlink("data/real.json", tmp_path / "deps.out.json")
    proc = pkg("analyze", "job.py", "deps.out.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert os.readlink(tmp_path / "deps.out.json") == "data/real.json"
    assert json.loads((tmp_path / "data" / "real.json").read_text())["format"] == 1


def test_out_symlink_of_another_user_is_refused(pkg: Pkg, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give the link to uid 65534")
    _project(tmp_path)
    (tmp_path / "mine.json").write_text("mine\n")
    os.symlink("mine.json", tmp_path / "out.json")
    os.lchown(tmp_path / "out.json", 65534, 65534)
    proc = pkg("analyze", "job.py", "out.json", cwd=tmp_path)
    _assert_clean_failure(proc, EXIT_USAGE, "uid 65534")
    assert (tmp_path / "mine.json").read_text() == "mine\n"


@contextmanager
def _mounted(directory: Path, options: str) -> Iterator[Path]:
    """A small tmpfs mounted on ``directory`` (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    directory.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=True)


@pytest.mark.parametrize("command", sorted(OUT_COMMANDS))
def test_out_directory_missing_or_read_only(pkg: Pkg, tmp_path: Path, command: str) -> None:
    """OUT's directory that does not exist, or takes no file (a read-only mount, which root
    cannot write either), is exit 2 naming it, before any work (no build cache made)."""
    _project(tmp_path)
    suffix = ".tar.gz" if command == "create" else ".json"
    proc = _pkg_out(pkg, tmp_path, command, f"missing/out{suffix}")
    _assert_clean_failure(proc, EXIT_USAGE, "missing")
    with _mounted(tmp_path / "ro", "ro,size=1m"):
        proc = _pkg_out(pkg, tmp_path, command, f"ro/out{suffix}")
        _assert_clean_failure(proc, EXIT_USAGE, "ro/out")
    assert not (tmp_path.parent / f"{tmp_path.name}-cache").exists()


@contextmanager
def _full(directory: Path) -> Iterator[Path]:
    """A tmpfs on ``directory`` with no byte left (one filler file)."""
    with _mounted(directory, "size=64k") as full:
        fd = os.open(full / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:  # ENOSPC: full
            pass
        finally:
            os.close(fd)
        yield full


@pytest.mark.parametrize("command", ["analyze", "runner"])
def test_out_filesystem_full(pkg: Pkg, tmp_path: Path, command: str) -> None:
    """OUT's filesystem full while writing: exit 5 naming OUT, nothing left there."""
    _project(tmp_path)
    with _full(tmp_path / "full") as full:
        proc = _pkg_out(pkg, tmp_path, command, "full/out.json")
        _assert_clean_failure(proc, 5, "full/out.json: No space left on device")
        _only(full, "filler")


# --------------------------------------------------------------------------- inputs (issue 17)


def _make_input(tmp_path: Path, kind: str, name: str) -> Path:
    """An input ``name`` in ``tmp_path`` that is not a regular file within its bound."""
    path = tmp_path / name
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "link-to-zero":
        os.symlink("/dev/zero", path)
    elif kind == "directory":
        path.mkdir()
    else:  # huge: sparse, so the test costs nothing and a read of it would cost GBs
        with open(path, "wb") as fh:
            fh.truncate(MAX_SOURCE + 1 if kind == "huge" else MAX_NOTEBOOK + 1)
    return path


@pytest.mark.parametrize(
    ("kind", "name", "culprit"),
    [
        ("fifo", "job.py", "a FIFO"),
        ("link-to-zero", "job.py", "a character device"),
        ("huge", "job.py", "larger than 4 MiB"),
        ("huge-notebook", "job.ipynb", "larger than 64 MiB"),
    ],
)
def test_analyze_script_not_a_bounded_regular_file(
    pkg: Pkg, tmp_path: Path, kind: str, name: str, culprit: str
) -> None:
    """A FIFO (would block), /dev/zero (would be read until the OOM killer) or a script over
    its bound is exit 3 at once, nothing written."""
    _make_input(tmp_path, kind, name)
    proc = pkg("analyze", name, "deps.json", cwd=tmp_path, timeout=120)
    _assert_clean_failure(proc, EXIT_INPUT, f"{name}: {culprit}")
    assert not (tmp_path / "deps.json").exists()


@pytest.mark.parametrize("keep_going", [False, True])
def test_analyze_huge_module_in_the_walk(pkg: Pkg, tmp_path: Path, keep_going: bool) -> None:
    """A local module the walk follows that is over the bound is reported like a module
    that does not parse: a warning naming it, the module skipped (never read) and the spec
    written, with or without --keep-going (only a script named on the command line stops
    the analysis: docs/analyzer.md, "Files that do not parse")."""
    (tmp_path / "job.py").write_text("import helpers\nimport yaml\n")
    _make_input(tmp_path, "huge", "helpers.py")
    options = ["--keep-going"] if keep_going else []
    proc = pkg("analyze", *options, "job.py", "deps.json", cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "warning: helpers.py: cannot read: larger than 4 MiB" in proc.stderr
    assert "PyYAML" in (tmp_path / "deps.json").read_text()


def test_analyze_walk_skips_what_python_cannot_import(pkg: Pkg, tmp_path: Path) -> None:
    """A FIFO or a link to /dev/zero named like a module is no module to Python (its
    FileFinder takes regular files only), so the walk neither reads it (no hang, no OOM)
    nor bundles it: ``import helpers`` stays a third-party import, as Python would see it."""
    (tmp_path / "job.py").write_text("import helpers\nimport yaml\n")
    _make_input(tmp_path, "fifo", "helpers.py")
    (tmp_path / "pkgdir").mkdir()
    (tmp_path / "pkgdir" / "ok.py").write_text("import six\n")
    _make_input(tmp_path / "pkgdir", "fifo", "fifo.py")
    _make_input(tmp_path / "pkgdir", "link-to-zero", "zero.py")
    proc = pkg("analyze", "job.py", "pkgdir", "deps.json", cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    spec = json.loads((tmp_path / "deps.json").read_text())
    assert spec["analysis"]["entry_points"] == ["job.py", "pkgdir/ok.py"]
    helpers = [i for i in spec["analysis"]["imports"] if i["module"] == "helpers"]
    assert helpers and helpers[0]["installer"] != "local"


@pytest.mark.parametrize(
    ("kind", "culprit"),
    [("fifo", "a FIFO"), ("link-to-zero", "a character device"), ("directory", "a directory"),
     ("huge", "larger than 4 MiB")],
)  # fmt: skip
@pytest.mark.parametrize("what", ["spec", "lock"])
def test_create_spec_or_lock_not_a_bounded_regular_file(
    pkg: Pkg, tmp_path: Path, kind: str, culprit: str, what: str
) -> None:
    """SPEC and --lock LOCK: a FIFO, /dev/zero, a directory or over 4 MiB is exit 3 at once."""
    if what == "spec":
        _make_input(tmp_path, kind, "deps.json")
        args: tuple[str, ...] = ("deps.json",)
    else:
        _spec(tmp_path, {"conda": {"dependencies": ["python"]}})
        _make_input(tmp_path, kind, "given.lock.json")
        args = ("--lock", "given.lock.json", "deps.json")
    cache = str(tmp_path.parent / f"{tmp_path.name}-cache")
    proc = pkg("create", "--cache-dir", cache, *args, "env.tar.gz", cwd=tmp_path, timeout=120)
    _assert_clean_failure(proc, EXIT_INPUT, culprit)
    assert not (tmp_path / "env.tar.gz").exists()


# --------------------------------------------------------------------------- specs (issue 17)

DEEP = 50_000


@pytest.mark.parametrize(
    ("name", "text", "culprit"),
    [
        ("deps.json", "{}", "missing required key 'conda'"),
        ("deps.json", "null", "must be a JSON object, not null"),
        ("spec.txt", "null\n", "must be a JSON object, not null"),
        ("deps.json", '{"conda": {"dependencies": []}}', "no dependencies at all"),
        ("environment.yml", "{}\n", "missing required key 'conda'"),
        ("environment.yml", "name: x\nchannels: [conda-forge]\n", "no dependencies at all"),
        ("deps.json", '{"conda": {"packages": []}, "pip": []}', "no dependencies at all"),
        ("requirements.txt", "", "no requirement in this requirements file"),
        ("requirements.txt", "# only a comment\n\n", "no requirement in this requirements file"),
        ("deps.json", "[" * DEEP + "]" * DEEP, "deps.json"),
        ("deps.json", '{"a": ' * DEEP + "1" + "}" * DEEP, "JSON nested too deeply"),
        ("environment.yml", "a: " + "[" * DEEP + "]" * DEEP + "\n", "environment.yml"),
        ("deps.json", '{"conda": {"dependencies": ["numpy; touch x"]}}', "'numpy; touch x'"),
        ("deps.json", '{"conda": {"dependencies": ["numpy $(id)"]}}', "'numpy $(id)'"),
        ("deps.json", '{"conda": {"dependencies": ["numpy`id`"]}}', "'numpy`id`'"),
        ("requirements.txt", "six\n-e .\n", "line 2: '-e .': pip option -e"),
        ("requirements.txt", "--editable=.\n", "option --editable"),
        ("requirements.txt", "-i https://x.invalid/simple\nsix\n", "option -i"),
        ("requirements.txt", "--index-url https://x.invalid/simple\n", "option --index-url"),
        ("requirements.txt", "--extra-index-url https://x.invalid/\n", "--extra-index-url"),
        ("requirements.txt", "-f ./wheels\nsix\n", "option -f"),
        ("requirements.txt", "--no-binary :all:\nsix\n", "option --no-binary"),
        ("requirements.txt", "--pre\nsix\n", "option --pre"),
        ("requirements.txt", "six==1.16.0 --hash=sha256:00\n", "line 1: 'six==1.16.0 --hash"),
        ("requirements.txt", "six \\\n  --hash=sha256:00\n", "option --hash"),
        ("requirements.txt", "-c missing.txt\nsix\n", "requirements file missing.txt: No such"),
        ("requirements.txt", "-c requirements.txt\nsix\n", "includes itself"),
        ("requirements.txt", "--constraint=c.txt\nsix\n", "c.txt"),
        ("requirements.txt", "-c /dev/zero\nsix\n", "/dev/zero: a character device"),
        ("requirements.txt", "-c\nsix\n", "line 1: '-c': needs a file name"),
        ("requirements.txt", "six @ https://${TOKEN}@x.invalid/six.whl\n", "${...}"),
        ("requirements.txt", "-r https://x.invalid/base.txt\n", "from a URL"),
        ("requirements.txt", "-r missing.txt\n", "missing.txt"),
        ("requirements.txt", "-r requirements.txt\n", "includes itself"),
        ("requirements.txt", "./local/dir\n", "line 1: './local/dir': invalid requirement"),
    ],
)
def test_create_spec_that_cannot_be_honoured(
    pkg: Pkg, tmp_path: Path, name: str, text: str, culprit: str
) -> None:
    """Empty, null and 50k-deep specs, strings that are no MatchSpec, and every pip
    requirements-file feature pkgtool cannot honour: exit 3 naming the file, line and
    line, before anything is resolved (the cache stays unmade), nothing written."""
    (tmp_path / name).write_text(text)
    cache = tmp_path.parent / f"{tmp_path.name}-cache"
    proc = pkg("create", "--cache-dir", cache, name, "env.tar.gz", cwd=tmp_path, timeout=120)
    _assert_clean_failure(proc, EXIT_INPUT, culprit)
    _only(tmp_path, name)
    assert not cache.exists()


def test_requirements_include_loop_and_depth(pkg: Pkg, tmp_path: Path) -> None:
    """-r is followed relative to the file naming it; a loop through several files, and
    includes nested deeper than the bound, are exit 3 naming the file and the line."""
    (tmp_path / "a").mkdir()
    (tmp_path / "requirements.txt").write_text("six\n-r a/one.txt\n")
    (tmp_path / "a" / "one.txt").write_text("-r ../two.txt\n")
    (tmp_path / "two.txt").write_text("# loop back\n-r a/one.txt\n")
    proc = pkg("inspect", "requirements.txt", cwd=tmp_path)
    _assert_clean_failure(proc, EXIT_INPUT, "two.txt: line 2: '-r a/one.txt': includes itself")
    for i in range(MAX_DEPTH + 2):
        (tmp_path / f"d{i}.txt").write_text(f"-r d{i + 1}.txt\n")
    (tmp_path / f"d{MAX_DEPTH + 2}.txt").write_text("six\n")
    proc = pkg("inspect", "d0.txt", cwd=tmp_path)
    _assert_clean_failure(proc, EXIT_INPUT, f"nested more than {MAX_DEPTH} deep")
    os.mkfifo(tmp_path / "fifo.txt")
    (tmp_path / "reads-fifo.txt").write_text("six\n-r fifo.txt\n")
    proc = pkg("inspect", "reads-fifo.txt", cwd=tmp_path, timeout=120)
    _assert_clean_failure(proc, EXIT_INPUT, "fifo.txt: a FIFO")


@pytest.mark.parametrize(
    ("dependency", "options"),
    [
        ("http://127.0.0.1:9/evil::numpy", ("--local-python", "PYTHON")),
        ("conda-forge::numpy", ("--local-python", "PYTHON")),
        ("conda-forge::numpy", ("--channel", "file:///nonexistent/channel")),
        ("http://127.0.0.1:9/evil/linux-64::numpy", ()),
    ],
)
def test_create_matchspec_channel_the_build_does_not_use(
    pkg: Pkg, tmp_path: Path, host_python: Path, dependency: str, options: tuple[str, ...]
) -> None:
    """A MatchSpec naming a channel the build does not use (under --local-python conda
    packages come from the package index) is exit 3 naming it, before any resolution."""
    _spec(tmp_path, {"conda": {"dependencies": ["python", dependency]}})
    args = [str(host_python) if a == "PYTHON" else a for a in options]
    cache = tmp_path / "cache"
    proc = pkg("create", *args, "--cache-dir", cache, "deps.json", "env.tar.gz", cwd=tmp_path)
    _assert_clean_failure(proc, EXIT_INPUT, f"MatchSpec {dependency!r}")
    assert not (tmp_path / "env.tar.gz").exists()


def test_inspect_and_code_files_that_are_fifos(pkg: Pkg, tmp_path: Path) -> None:
    """`pkg inspect FIFO` and a FIFO among the code files of `pkg create --code all` are
    exit 3 naming it at once (both used to block forever on open)."""
    os.mkfifo(tmp_path / "pipe.json")
    proc = pkg("inspect", "pipe.json", cwd=tmp_path, timeout=120)
    _assert_clean_failure(proc, EXIT_INPUT, "pipe.json: a FIFO")
    (tmp_path / "pipe.json").unlink()
    _spec(tmp_path, {"conda": {"dependencies": ["python"]}})
    (tmp_path / "job.py").write_text("print(1)\n")
    os.mkfifo(tmp_path / "queue")
    cache = tmp_path.parent / f"{tmp_path.name}-cache"
    proc = pkg("create", "--code", "all", "--cache-dir", cache, "deps.json", "env.tar.gz",
               cwd=tmp_path, timeout=120)  # fmt: skip
    _assert_clean_failure(proc, EXIT_INPUT, "code file queue is a FIFO")
    _only(tmp_path, "deps.json", "job.py", "queue")


@pytest.mark.slow
def test_create_out_filesystem_full(pkg: Pkg, tmp_path: Path, local_channel: object) -> None:
    """`pkg create` whose OUT's filesystem fills while the archive is written: exit 5
    naming OUT (not 1, "internal error"), no archive, lock or partial file left there; the
    same build to a roomy directory then works."""
    url = local_channel.url  # type: ignore[attr-defined]
    _spec(tmp_path, {"conda": {"dependencies": ["python=3.11"]}})
    cache = tmp_path / "cache"
    with _full(tmp_path / "full") as full:
        proc = pkg("create", "--channel", url, "--cache-dir", cache, "deps.json",
                   "full/env.tar.gz", cwd=tmp_path)  # fmt: skip
        _assert_clean_failure(proc, 5, "full/env.tar.gz: No space left on device")
        _only(full, "filler")
    proc = pkg("create", "--channel", url, "--cache-dir", cache, "deps.json", "env.tar.gz",
               cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_requirements_constraints_limit_the_pip_resolution(
    pkg: Pkg, tmp_path: Path, local_channel: object, installer: str
) -> None:
    """-c FILE constraints reach the pip resolution (a real build): they add no
    requirement (numpy<1 installs no numpy), and a constraint nothing satisfies (six>=99) is
    exit 4, also right after a build whose resolution is cached (the key holds them)."""
    url = local_channel.url  # type: ignore[attr-defined]
    (tmp_path / "requirements.txt").write_text("-c pins/constraints.txt\nsix\n")
    (tmp_path / "pins").mkdir()
    (tmp_path / "pins" / "constraints.txt").write_text("six==1.17.0\nnumpy<1\n")
    cache = tmp_path / "cache"
    args = ("create", "--installer", installer, "--channel", url, "--cache-dir", cache,
            "requirements.txt", "env.tar.gz")  # fmt: skip
    proc = pkg(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lock = json.loads((tmp_path / "env.lock.json").read_text())
    assert [(p["name"], p["version"]) for p in lock["pip"]] == [("six", "1.17.0")]
    (tmp_path / "pins" / "constraints.txt").write_text("six>=99\n")
    (tmp_path / "env.tar.gz").unlink()
    proc = pkg(*args, cwd=tmp_path)
    assert proc.returncode == EXIT_RESOLUTION, proc.stderr
    assert "six" in proc.stderr.splitlines()[-2]
    assert not (tmp_path / "env.tar.gz").exists()


def test_analyze_project_metadata_that_are_fifos(pkg: Pkg, tmp_path: Path) -> None:
    """FIFOs as pyproject.toml, setup.cfg and setup.py (read to find the project's package
    directories) are no metadata: the analysis neither blocks nor fails on them."""
    for name in ("pyproject.toml", "setup.cfg", "setup.py"):
        os.mkfifo(tmp_path / name)
    (tmp_path / "job.py").write_text("import yaml\n")
    proc = pkg("analyze", "job.py", "deps.json", cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "PyYAML" in (tmp_path / "deps.json").read_text()
