"""The call package (``python3 -m pkgtool_call``) run by this interpreter in a subprocess, as
the builder places it (:func:`pkgtool.call.place_module`): log hints, the stdlib packagers,
bad input before the call, a raising function, the manifest written last, a user packager
found through an entry point. The real environments are in test_call.py."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pkgtool.call import MODULE, CallRequest, check, place_module
from pkgtool.call.pkgtool_call._hints import HintError, LogHint, parse_returns
from pkgtool.errors import UsageError

FUNCTIONS = """
import pathlib


def kinds(n: int, x: float, flag: bool, word: str, opts: dict, items: list,
          where: pathlib.Path, blob: bytes, plain="text"):
    return {name: [type(v).__name__, v if not isinstance(v, (bytes, pathlib.Path)) else str(v)]
            for name, v in locals().items()}


def count(n: int, marker: pathlib.Path) -> int:
    marker.write_text("called")
    return n


def three(n: int):
    return n, {"double": 2 * n}, "text " * n


def fails(n: int) -> int:
    raise ValueError(f"no good: {n}")


def half(n: int):
    return n, {n, n + 1}
"""


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    place_module(site)
    (site / "funcs.py").write_text(FUNCTIONS)
    return site


def _call(
    site: Path, cwd: Path, *args: str, python: str = sys.executable
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [python, "-m", MODULE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(f"{MODULE}: error:")]


def test_hint_grammar() -> None:
    assert parse_returns(["row_count, cleaned: dataset", "m : dataset[format='parquet', x=1]"]) == [
        LogHint("row_count"),
        LogHint("cleaned", "dataset"),
        LogHint("m", "dataset", (("format", "parquet"), ("x", "1"))),
    ]
    assert parse_returns(['a: file[sep=",", format=csv]'])[0].option("sep") == ","
    for bad in ("a b", "a: da-ta", "a: file[format]", "a: file[format=csv", "a, a", "../x"):
        with pytest.raises(HintError):
            parse_returns([bad])


def test_the_command_line_is_checked_before_the_runner(tmp_path: Path) -> None:
    for request in (
        CallRequest(tmp_path / "env.tar.gz", "clean.clean_data"),
        CallRequest(tmp_path / "env.tar.gz", "clean:clean_data", inputs=("raw_data",)),
        CallRequest(tmp_path / "env.tar.gz", "clean:clean_data", returns=("a: b[c",)),
    ):
        with pytest.raises(UsageError):
            check(request)


def test_inputs_become_the_annotated_types(tmp_path: Path) -> None:
    site = _site(tmp_path)
    (tmp_path / "opts.json").write_text('{"a": 1}')
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01")
    proc = _call(
        site,
        tmp_path,
        "funcs:kinds",
        "-i",
        "n=7",
        "-i",
        "x=2.5",
        "-i",
        "flag=no",
        "-i",
        "word=7",
        "-i",
        "opts=opts.json",
        "-i",
        "items=[1, 2]",
        "-i",
        "where=nowhere",
        "-i",
        "blob=blob.bin",
        "--returns",
        "seen",
        "--out",
        "out",
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads((tmp_path / "out" / "results.json").read_text())["seen"]
    assert seen == {
        "n": ["int", 7],
        "x": ["float", 2.5],
        "flag": ["bool", False],
        "word": ["str", "7"],
        "opts": ["dict", {"a": 1}],
        "items": ["list", [1, 2]],
        "where": ["PosixPath", "nowhere"],
        "blob": ["bytes", "b'\\x00\\x01'"],
        "plain": ["str", "text"],
    }


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        (["n=seven", "marker=m"], "parameter 'n' of funcs:count: cannot read 'seven' as int"),
        (["marker=m"], "missing --input n (parameter 'n' of count, expected int)"),
        (["n=1", "marker=m", "extra=1"], "--input extra: count has no parameter 'extra'"),
        (["n=1", "marker="], "parameter 'marker' of funcs:count: cannot read '' as pathlib.Path"),
    ],
)
def test_bad_input_is_exit_2_before_the_call(
    tmp_path: Path, inputs: list[str], expected: str
) -> None:
    site = _site(tmp_path)
    args = [a for item in inputs for a in ("--input", item)]
    proc = _call(site, tmp_path, "funcs:count", *args, "--out", "out")
    assert proc.returncode == 2, proc.stderr
    (line,) = _error_lines(proc.stderr)
    assert expected in line, line
    assert not (tmp_path / "m").exists()  # the function never ran
    assert not (tmp_path / "out").exists()


def test_unknown_kind_or_format_is_exit_2_before_the_call(tmp_path: Path) -> None:
    site = _site(tmp_path)
    for spec, message in (
        ("n: datset", "unknown kind 'datset'"),
        ("n: file[format=xlsx]", "no packager writes format 'xlsx'"),
    ):
        proc = _call(site, tmp_path, "funcs:count", "-i", "n=1", "-i", "marker=m", "-r", spec)
        assert proc.returncode == 2, proc.stderr
        assert message in _error_lines(proc.stderr)[0]
        assert not (tmp_path / "m").exists()


def test_tuple_return_and_manifest(tmp_path: Path) -> None:
    site = _site(tmp_path)
    proc = _call(
        site,
        tmp_path,
        "funcs:three",
        "-i",
        "n=2",
        "-r",
        "n, twice: file[format=yaml], words: file",
        "-o",
        "out",
    )
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    manifest = json.loads((out / "outputs.json").read_text())
    assert manifest["function"] == "funcs:three"
    assert [(o["name"], o["kind"], o["path"]) for o in manifest["outputs"]] == [
        ("n", "result", "results.json"),
        ("twice", "file", "twice.yaml"),
        ("words", "file", "words.txt"),
    ]
    for entry in manifest["outputs"]:
        data = (out / entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["size"] == len(data)
    assert json.loads((out / "results.json").read_text()) == {"n": 2}
    assert (out / "twice.yaml").read_text() == "double: 4\n"
    assert sorted(p.name for p in out.iterdir()) == [
        "outputs.json",
        "results.json",
        "twice.yaml",
        "words.txt",
    ]


def test_returns_that_do_not_fit_are_exit_2(tmp_path: Path) -> None:
    site = _site(tmp_path)
    proc = _call(site, tmp_path, "funcs:three", "-i", "n=1", "-r", "a, b", "-o", "out")
    assert proc.returncode == 2
    assert "--returns names 2 values but funcs:three returned a tuple of 3" in proc.stderr
    assert not (tmp_path / "out" / "outputs.json").exists()


def test_an_output_that_cannot_be_written_leaves_no_manifest(tmp_path: Path) -> None:
    site = _site(tmp_path)
    out = tmp_path / "out"
    proc = _call(site, tmp_path, "funcs:half", "-i", "n=1", "-r", "n, pair: file", "-o", "out")
    assert proc.returncode == 2
    assert "--returns pair: no packager writes a set" in _error_lines(proc.stderr)[0]
    assert sorted(p.name for p in out.iterdir()) == []  # n was a result: not written either


def test_raising_function_is_exit_1_and_leaves_no_manifest(tmp_path: Path) -> None:
    site = _site(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "outputs.json").write_text("{}")  # an earlier call's manifest
    proc = _call(site, tmp_path, "funcs:fails", "-i", "n=3", "-o", "out")
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert 'raise ValueError(f"no good: {n}")' in proc.stderr
    assert _error_lines(proc.stderr) == [
        f"{MODULE}: error: funcs:fails raised ValueError: no good: 3"
    ]
    assert not (out / "outputs.json").exists()


def test_a_module_that_raises_on_import_is_exit_1(tmp_path: Path) -> None:
    site = _site(tmp_path)
    (site / "broken.py").write_text("raise RuntimeError('no config here')\n")
    proc = _call(site, tmp_path, "broken:main", "-o", "out")
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert _error_lines(proc.stderr) == [
        f"{MODULE}: error: importing the function raised RuntimeError: no config here"
    ]
    proc = _call(site, tmp_path, "no_such_module:main")
    assert proc.returncode == 2
    assert "no module 'no_such_module'" in _error_lines(proc.stderr)[0]


def test_user_packager_from_an_entry_point(tmp_path: Path) -> None:
    site = _site(tmp_path)
    (site / "celsius.py").write_text(
        "class Celsius(float):\n    pass\n\n"
        "class CelsiusPackager:\n    name = 'celsius'\n    types = ('celsius.Celsius',)\n"
        "    formats = ('degc',)\n    kind = 'reading'\n"
        "    def unpack(self, value, annotation):\n        return Celsius(value.rstrip('C'))\n"
        "    def pack(self, obj, path, options):\n"
        "        open(path, 'w').write(f'{float(obj)}C')\n"
    )
    (site / "funcs_c.py").write_text(
        "from celsius import Celsius\n\ndef warm(t: Celsius) -> Celsius:\n"
        "    return Celsius(t + 1)\n"
    )
    info = site / "celsius-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: celsius\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[pkgtool.packagers]\ncelsius = celsius:CelsiusPackager\n"
    )
    proc = _call(site, tmp_path, "funcs_c:warm", "-i", "t=20C", "-r", "t", "-o", "out")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "t.degc").read_text() == "21.0C"
    (entry,) = json.loads((tmp_path / "out" / "outputs.json").read_text())["outputs"]
    assert (entry["name"], entry["kind"], entry["path"]) == ("t", "reading", "t.degc")


PY38 = Path.home() / ".pyenv/versions/3.8.18/bin/python3"
POSTPONED = """
from __future__ import annotations

import pathlib
from typing import Optional


def f(a: dict[str, int], b: Optional[int] = None, c: "list[int] | None" = None,
      p: pathlib.Path | None = None) -> tuple[int, dict]:
    return (b or 0) + sum(a.values()) + sum(c or []), {"p": str(p)}
"""


@pytest.mark.skipif(not PY38.exists(), reason=f"{PY38} is not installed")
def test_on_python_3_8_with_annotations_it_cannot_evaluate(tmp_path: Path) -> None:
    """Nodes may have Python 3.8, where ``dict[str, int]`` and ``X | None`` do not evaluate:
    the types are read from the annotations' text."""
    site = _site(tmp_path)
    (site / "late.py").write_text(POSTPONED)
    proc = _call(
        site,
        tmp_path,
        "late:f",
        "-i",
        'a={"x": 1}',
        "-i",
        "b=2",
        "-i",
        "c=[3]",
        "-i",
        "p=x/y",
        "-r",
        "n, info: file[format=json]",
        "-o",
        "out",
        python=str(PY38),
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "out" / "results.json").read_text()) == {"n": 6}
    assert json.loads((tmp_path / "out" / "info.json").read_text()) == {"p": "x/y"}
    proc = _call(site, tmp_path, "late:f", "-i", "a=[1]", python=str(PY38))
    assert proc.returncode == 2
    assert "cannot read '[1]' as dict" in _error_lines(proc.stderr)[0]
