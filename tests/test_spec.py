"""Spec loading and validation: format 1 and the foreign formats create accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pkgtool.errors import EXIT_INPUT, SpecError
from pkgtool.spec import Spec, load_spec, matchspec_name, write_spec


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_round_trip_keeps_every_member(tmp_path: Path) -> None:
    data = {
        "format": 1,
        "conda": {
            "channels": ["conda-forge"],
            "dependencies": ["python=3.11", "pip", "numpy=2.1.*", {"pip": ["pyyaml==6.0.2"]}],
        },
        "code": {"root": ".", "include": ["helpers/*.py"], "exclude": []},
        "env": {"OMP_NUM_THREADS": "1"},
        "analysis": {
            "python": "3.11.7",
            "entry_points": ["analysis.py"],
            "imports": [
                {
                    "module": "yaml",
                    "distribution": "PyYAML",
                    "version": "6.0.2",
                    "installer": "pip",
                    "optional": False,
                    "sites": ["analysis.py:4"],
                }
            ],
        },
    }
    spec = Spec.from_dict(data)
    out = tmp_path / "deps.json"
    write_spec(spec, out)
    again = load_spec(out)
    assert again == spec
    assert again.pip == ("pyyaml==6.0.2",)
    assert again.python_spec == "python=3.11"
    assert json.loads(out.read_text())["conda"] == data["conda"]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "deps.json",
        json.dumps({"conda": {"dependencies": [3, {"pip": ["not a req!!"]}]}, "colour": 1}),
    )
    with pytest.raises(SpecError) as info:
        load_spec(path)
    problems = info.value.problems
    assert any("'colour'" in p for p in problems)
    assert any("dependencies[0]" in p for p in problems)
    assert any("PEP 508" in p for p in problems)
    assert info.value.exit_code == EXIT_INPUT
    assert str(path) in info.value.message


def test_poncho_spec_converts(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "poncho.json",
        json.dumps(
            {
                "conda": {"channels": ["conda-forge"], "packages": ["python=3.11", "numpy"]},
                "pip": ["six"],
            }
        ),
    )
    spec = load_spec(path)
    assert spec.dependencies == ("python=3.11", "numpy", "pip")
    assert spec.pip == ("six",)


def test_poncho_git_sources_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "p.json", json.dumps({"conda": {"packages": []}, "git": {"x": {}}}))
    with pytest.raises(SpecError, match="git"):
        load_spec(path)


def test_environment_yml_and_requirements(tmp_path: Path) -> None:
    yml = _write(
        tmp_path,
        "environment.yml",
        "name: x\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip\n"
        "  - pip:\n    - six==1.16.0\n",
    )
    assert load_spec(yml).pip == ("six==1.16.0",)
    req = _write(tmp_path, "requirements.txt", "# c\nnumpy>=1.20  # comment\nsix\n")
    spec = load_spec(req)
    assert spec.pip == ("numpy>=1.20", "six")
    assert spec.dependencies == ("python", "pip")


def test_requirements_includes_are_followed_relative_to_their_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    top = _write(tmp_path, "requirements.txt", "six\n-r sub/base.txt\n--requirement=sub/more.txt\n")
    _write(tmp_path / "sub", "base.txt", "PyYAML \\\n  ==6.0.2  # pinned\n-rmore.txt\nsix\n")
    _write(tmp_path / "sub", "more.txt", "attrs; python_version >= '3.8'\n")
    # each file once, in order, continuation lines joined, comments dropped
    assert load_spec(top).pip == ("six", "PyYAML ==6.0.2", "attrs; python_version >= '3.8'")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("numpy", "numpy"),
        ("numpy=2.1.*", "numpy"),
        ("conda-forge::NumPy >=1", "numpy"),
        ("python 3.11.* *_cpython", "python"),
        ("libblas[build=*mkl]", "libblas"),
    ],
)
def test_matchspec_name(text: str, name: str) -> None:
    assert matchspec_name(text) == name


def test_code_may_list_several_roots(tmp_path: Path) -> None:
    data = {
        "conda": {"dependencies": ["python"]},
        "code": [{"root": ".", "include": ["a.py"]}, {"root": "src", "include": ["pkg/**"]}],
    }
    spec = Spec.from_dict(data)
    assert [c.root for c in spec.code] == [".", "src"]
    out = tmp_path / "deps.json"
    write_spec(spec, out)
    assert load_spec(out) == spec
    assert isinstance(json.loads(out.read_text())["code"], list)
    with pytest.raises(SpecError, match=r"code\[1\]\.colour"):
        Spec.from_dict({**data, "code": [{"root": "."}, {"root": "b", "colour": 1}]})


def test_code_mode_is_written_only_when_not_auto(tmp_path: Path) -> None:
    """Specs in auto mode keep pkgtool 0.1's code keys (root, include, exclude), so 0.1
    still reads them; other modes round-trip; a bad mode is reported with the others."""
    auto = {"format": 1, "conda": {"channels": [], "dependencies": ["python"]},
            "code": {"root": ".", "include": ["a.py"], "exclude": []}}  # fmt: skip
    spec = Spec.from_dict(auto)
    assert spec.code[0].mode == "auto" and spec.to_dict()["code"] == auto["code"]
    git = {**auto, "code": {"root": ".", "mode": "git", "include": [], "exclude": ["*.ipynb"]}}
    spec = Spec.from_dict(git)
    assert spec.code[0].mode == "git" and spec.to_dict()["code"] == git["code"]
    path = tmp_path / "deps.json"
    write_spec(spec, path)
    assert load_spec(path) == spec
    with pytest.raises(SpecError) as err:
        Spec.from_dict({**auto, "code": {"mode": "everything", "colour": 1}})
    assert err.value.exit_code == EXIT_INPUT
    text = str(err.value.problems)
    assert "'code.mode' must be one of auto, git, all, none" in text
    assert "unknown key 'code.colour'" in text


def test_requirements_constraints_are_kept_apart(tmp_path: Path) -> None:
    """-c FILE lines are constraints (not requirements); in a constraints file -r and -c
    both name more constraints; a constraint with extras is refused, as pip does."""
    top = _write(tmp_path, "requirements.txt", "six\n-c c1.txt\n")
    _write(tmp_path, "c1.txt", "six<2\n-r c2.txt\n")
    _write(tmp_path, "c2.txt", "numpy<3  # not installed, only limited\n")
    spec = load_spec(top)
    assert (spec.pip, spec.pip_constraints) == (("six",), ("six<2", "numpy<3"))
    assert "pip_constraints" not in json.dumps(spec.to_dict())
    _write(tmp_path, "c2.txt", "requests[socks]<3\n")
    with pytest.raises(SpecError, match=r"c2.txt: line 1: .*cannot name extras"):
        load_spec(top)
