"""What :func:`pkgtool.analyzer.analyze` accepts and where it looks for local code:
directories, notebooks, files that do not parse, project roots and src layouts.

Scenario folders: ``tests/cases/notebook``, ``tests/cases/srclayout``, ``tests/cases/py2``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer._records import modules, record, write_tree
from pkgtool.analyzer import AnalyzeOptions, analyze
from pkgtool.analyzer._inputs import collect_entries
from pkgtool.analyzer._notebook import python_lines, read_notebook
from pkgtool.analyzer._project import import_roots, project_root
from pkgtool.builder.code import collect, select_files
from pkgtool.errors import InputError

CASES = Path(__file__).resolve().parent.parent / "cases"


def copy_case(name: str, tmp_path: Path) -> Path:
    """A private copy of ``tests/cases/<name>`` (so nothing lands in the source tree)."""
    return Path(shutil.copytree(CASES / name, tmp_path / name))


def notebook(cells: list[tuple[str, str]]) -> str:
    """An nbformat v4 notebook document holding ``(cell_type, source)`` cells."""
    return json.dumps(
        {
            "cells": [
                {"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True)}
                for kind, source in cells
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


# ------------------------------------------------------------------ directories


def test_directory_input_finds_scripts_and_notebooks_and_skips_the_rest(tmp_path: Path) -> None:
    proj = write_tree(
        tmp_path / "proj",
        {
            "main.py": "import pkg.mod\n",
            "explore.ipynb": notebook([("code", "import pkgtool_nb_dep\n")]),
            "notes.txt": "import pkgtool_not_python\n",
            "pkg/__init__.py": "",
            "pkg/mod.py": "import logging\nfrom . import sibling\n",
            "pkg/sibling.py": "import pkgtool_sibling_dep\n",
            "pkg/logging.py": "import pkgtool_pkg_logging_dep\n",
            "tools/script.py": "import pkgtool_tool_dep\n",
            ".hidden/x.py": "import pkgtool_hidden\n",
            ".venv/pyvenv.cfg": "home = /usr/bin\n",
            ".venv/lib/site.py": "import pkgtool_dotvenv\n",
            "env/pyvenv.cfg": "home = /usr/bin\n",
            "env/lib/python3.11/site-packages/dep.py": "import pkgtool_venv\n",
            "site-packages/y.py": "import pkgtool_site\n",
            "node_modules/z.py": "import pkgtool_node\n",
            "build/lib/pkg/mod.py": "import pkgtool_build\n",
            "dist/w.py": "import pkgtool_dist\n",
            "proj.egg-info/v.py": "import pkgtool_egg\n",
            "pkg/__pycache__/mod.py": "import pkgtool_cache\n",
        },
    )
    result = analyze([proj], AnalyzeOptions(spec_dir=tmp_path))
    assert result.problems == ()
    assert result.spec.analysis is not None
    assert result.spec.analysis.entry_points == (
        "proj/explore.ipynb",
        "proj/main.py",
        "proj/pkg/__init__.py",
        "proj/pkg/logging.py",
        "proj/pkg/mod.py",
        "proj/pkg/sibling.py",
        "proj/tools/script.py",
    )
    found = {m for m in modules(result) if m.startswith("pkgtool_")}
    assert found == {
        "pkgtool_nb_dep",
        "pkgtool_sibling_dep",
        "pkgtool_pkg_logging_dep",  # pkg/logging.py is an entry point itself
        "pkgtool_tool_dep",
    }
    # pkg/mod.py runs as `python -m pkg.mod` (PEP 366): its relative import resolves and
    # pkg/logging.py does not pose as the standard logging module.
    assert "logging" not in modules(result)
    assert record(result, "pkg").sites == ("proj/main.py:1", "proj/pkg/mod.py:2")
    assert [(c.root, c.include) for c in result.spec.code] == [
        ("proj", ("pkg/__init__.py", "pkg/mod.py", "pkg/sibling.py")),
    ]


def test_directory_without_scripts_is_input_error(tmp_path: Path) -> None:
    write_tree(tmp_path / "empty", {"README": "nothing\n", ".hidden/x.py": "import os\n"})
    with pytest.raises(InputError, match="no Python script or notebook under directory"):
        analyze([tmp_path / "empty"], AnalyzeOptions(spec_dir=tmp_path))


def test_directory_and_script_inputs_mix_and_count_once(tmp_path: Path) -> None:
    write_tree(tmp_path, {"d/a.py": "import pkgtool_a\n", "d/b.py": "import pkgtool_b\n"})
    result = analyze(
        [tmp_path / "d/b.py", tmp_path / "d", tmp_path / "d/a.py"],
        AnalyzeOptions(spec_dir=tmp_path),
    )
    assert result.spec.analysis is not None
    assert result.spec.analysis.entry_points == ("d/b.py", "d/a.py")


# ------------------------------------------------------------------ notebooks


def test_notebook_with_magics_and_shell_escapes(tmp_path: Path) -> None:
    case = copy_case("notebook", tmp_path)
    result = analyze([case / "analysis.ipynb"], AnalyzeOptions(spec_dir=case))
    assert result.problems == ()
    assert modules(result) == {"numpy", "helper", "yaml", "pkgtool_nb_timed"}
    # Lines of the joined source (module docstring of pkgtool.analyzer._notebook).
    assert record(result, "numpy").sites == ("analysis.ipynb:2",)
    assert record(result, "helper").sites == ("analysis.ipynb:5",)
    assert record(result, "yaml").sites == ("analysis.ipynb:12",)
    assert record(result, "pkgtool_nb_timed").sites == ("analysis.ipynb:16",)
    assert [(c.root, c.include) for c in result.spec.code] == [(".", ("helper.py",))]
    source = read_notebook((case / "analysis.ipynb").read_bytes())
    assert source.locate(2) == (2, 2)  # cell 2 (after a markdown cell), line 2
    assert source.locate(12) == (4, 2)
    assert source.locate(6) is None  # the empty line after a cell
    assert source.locate(99) is None


def test_python_lines_blanks_ipython_syntax_and_keeps_line_numbers() -> None:
    cell = [
        "%load_ext autoreload",
        "import a",
        "out = !ls -l",
        "!!pwd",
        "x.shape?",
        "??open",
        "get_ipython().system('ls')",
        "if True:",
        "    %env X=1",
        "%timeit -n1 import b",
        "%time import c",
        "y = 3 % 2  # not a magic",
    ]
    assert python_lines(cell) == [
        "pass",
        "import a",
        "pass",
        "pass",
        "pass",
        "pass",
        "pass",
        "if True:",
        "    pass",
        "pass",
        "import c",
        "y = 3 % 2  # not a magic",
    ]
    assert python_lines(["", "%%writefile x.py", "import z"]) == ["", "", ""]
    assert python_lines(["%%capture out", "import z"]) == ["", "import z"]


def test_notebook_that_does_not_parse_names_the_cell(tmp_path: Path) -> None:
    (tmp_path / "nb.ipynb").write_text(
        notebook(
            [
                ("markdown", "# title"),
                ("code", "import numpy\n"),
                ("code", "import pkgtool_nb_after\nprint 'py2'\n"),
            ]
        )
    )
    result = analyze([tmp_path / "nb.ipynb"], AnalyzeOptions(spec_dir=tmp_path))
    assert len(result.problems) == 1
    problem = result.problems[0]
    assert (problem.path, problem.line, problem.recovered) == (str(tmp_path / "nb.ipynb"), 4, 2)
    assert problem.message.endswith("(cell 3, line 2)")
    assert {"numpy", "pkgtool_nb_after"} <= modules(result)


@pytest.mark.parametrize(
    "content", ["{not json", "[1, 2]", '{"nbformat": 2}', '{"cells": "x"}', "\xff"]
)
def test_file_that_is_not_a_notebook_is_a_problem(tmp_path: Path, content: str) -> None:
    (tmp_path / "bad.ipynb").write_text(content, encoding="latin-1")
    (tmp_path / "good.py").write_text("import pkgtool_good\n")
    result = analyze(
        [tmp_path / "bad.ipynb", tmp_path / "good.py"], AnalyzeOptions(spec_dir=tmp_path)
    )
    assert [(p.line, p.recovered) for p in result.problems] == [(None, 0)]
    assert result.problems[0].message.startswith("not a notebook")
    assert modules(result) == {"pkgtool_good"}


def test_nbformat_v3_notebook(tmp_path: Path) -> None:
    document = {
        "nbformat": 3,
        "worksheets": [{"cells": [{"cell_type": "code", "input": ["import pkgtool_v3\n"]}]}],
    }
    (tmp_path / "old.ipynb").write_text(json.dumps(document))
    result = analyze([tmp_path / "old.ipynb"], AnalyzeOptions(spec_dir=tmp_path))
    assert record(result, "pkgtool_v3").sites == ("old.ipynb:1",)


# ------------------------------------------------------------------ files that do not parse


def test_python2_file_is_reported_and_its_imports_recovered(tmp_path: Path) -> None:
    case = copy_case("py2", tmp_path)
    result = analyze([case], AnalyzeOptions(spec_dir=case))
    assert [(p.path, p.line, p.recovered) for p in result.problems] == [
        (os.path.join(str(case), "legacy.py"), 6, 7)
    ]
    assert "syntax error" in str(result.problems[0])
    assert str(result.problems[0]).endswith("(7 imports recovered)")
    assert result.recovered == 7
    assert modules(result) == {
        "numpy",
        "py2helper",
        "pkgtool_py2_lazy",
        "pkgtool_modern_dep",
        "yaml",  # from py2helper.py, followed from the recovered `import py2helper`
    }
    assert record(result, "numpy").sites == ("legacy.py:3",)
    # a Python 2 standard-library module is never a distribution: reported instead
    # (and the file itself is noted as Python 2, issue 23)
    assert [(f.module, f.message.split(",")[0]) for f in result.findings] == [
        (
            "legacy",
            "Python 2 file (except clause with a comma): 7 imports recovered from its tokens",
        ),
        ("cPickle", "Python 2 module"),
    ]
    assert not record(result, "pkgtool_py2_lazy").optional
    assert record(result, "py2helper").installer == "local"
    assert [(c.root, c.include) for c in result.spec.code] == [(".", ("py2helper.py",))]
    assert "numpy" in " ".join(result.spec.pip)


def test_py2_function_filter_uses_recovered_context(tmp_path: Path) -> None:
    case = copy_case("py2", tmp_path)
    top = analyze([case / "legacy.py"], AnalyzeOptions(spec_dir=case, toplevel=True))
    assert "pkgtool_py2_lazy" not in modules(top)
    main = analyze([case / "legacy.py"], AnalyzeOptions(spec_dir=case, function="main"))
    assert "pkgtool_py2_lazy" in modules(main)


def test_syntax_error_among_good_files(tmp_path: Path) -> None:
    write_tree(
        tmp_path / "d",
        {
            "a.py": "import pkgtool_a\nimport broken\n",
            "broken.py": "import pkgtool_broken\nimport util\ndef f(:\n    import pkgtool_late\n",
            "util.py": "import pkgtool_util\n",
            "z.py": "import pkgtool_z\n",
        },
    )
    result = analyze([tmp_path / "d"], AnalyzeOptions(spec_dir=tmp_path))
    assert [(p.path, p.line, p.recovered) for p in result.problems] == [
        (str(tmp_path / "d" / "broken.py"), 3, 3)
    ]
    assert {"pkgtool_a", "pkgtool_broken", "pkgtool_late", "pkgtool_util", "pkgtool_z"} <= (
        modules(result)
    )
    assert record(result, "util").installer == "local"
    assert record(result, "pkgtool_late").sites == ("d/broken.py:4",)
    assert [(c.root, c.include) for c in result.spec.code] == [("d", ("broken.py", "util.py"))]


# ------------------------------------------------------------------ project roots


def test_src_layout_gives_one_code_section_per_import_root(tmp_path: Path) -> None:
    case = copy_case("srclayout", tmp_path)
    result = analyze([case / "scripts" / "run.py"], AnalyzeOptions(spec_dir=case))
    assert result.problems == ()
    spec = result.spec
    assert [(c.root, c.include) for c in spec.code] == [
        (".", ("github.py",)),
        ("scripts", ("helpers.py",)),
        ("src", ("mypkg/__init__.py", "mypkg/core.py", "mypkg/util.py")),
    ]
    for section in spec.code:
        assert select_files(section, case) == list(section.include)
    # github.py at the project root shadows PyGithub's import name; logging.py there does
    # not shadow the standard library (the project root comes after it on sys.path).
    assert {r.module: r.installer for r in result.imports if r.installer == "local"} == {
        "github": "local",
        "helpers": "local",
        "mypkg": "local",
    }
    assert "logging" not in modules(result)
    assert {r.module for r in result.imports if r.installer != "local"} == {"numpy", "yaml"}
    assert record(result, "mypkg").sites == (
        "scripts/run.py:9",
        "src/mypkg/__init__.py:5",
        "src/mypkg/core.py:7",
    )


def test_src_layout_bundle_runs_from_anywhere(tmp_path: Path) -> None:
    case = copy_case("srclayout", tmp_path)
    spec = analyze([case / "scripts" / "run.py"], AnalyzeOptions(spec_dir=case)).spec
    site = tmp_path / "site-packages"
    site.mkdir()
    bundle = collect(spec.code, case)
    bundled = [f.path for f in bundle.files]
    assert "mypkg/core.py" in bundled and "helpers.py" in bundled
    for f in bundle.files:  # what the code layer holds under pkgtool-code/
        (site / f.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f.source, site / f.path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(case / "scripts" / "run.py", elsewhere / "run.py")
    done = subprocess.run(
        [sys.executable, "run.py"],
        cwd=elsewhere,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == "result: sum: 6 local github\n"


def test_script_directory_comes_before_project_root_and_src(tmp_path: Path) -> None:
    write_tree(
        tmp_path / "proj",
        {
            "setup.cfg": "[metadata]\nname = proj\n",
            "scripts/run.py": "import util\nimport shared\nimport only_src\n",
            "scripts/util.py": "import pkgtool_script_util\n",
            "util.py": "import pkgtool_root_util\n",
            "shared.py": "import pkgtool_root_shared\n",
            "src/shared.py": "import pkgtool_src_shared\n",
            "src/only_src/__init__.py": "import pkgtool_only_src\n",
        },
    )
    result = analyze([tmp_path / "proj/scripts/run.py"], AnalyzeOptions(spec_dir=tmp_path))
    found = {m for m in modules(result) if m.startswith("pkgtool_")}
    assert found == {"pkgtool_script_util", "pkgtool_root_shared", "pkgtool_only_src"}
    assert [(c.root, c.include) for c in result.spec.code] == [
        ("proj", ("shared.py",)),
        ("proj/scripts", ("util.py",)),
        ("proj/src", ("only_src/__init__.py",)),
    ]


def test_namespace_package_spread_over_roots(tmp_path: Path) -> None:
    write_tree(
        tmp_path / "proj",
        {
            "pyproject.toml": "[project]\nname = 'proj'\n",
            "scripts/run.py": "import labns.a\nimport labns.b\n",
            "scripts/labns/a.py": "import pkgtool_ns_a\n",
            "src/labns/b.py": "import pkgtool_ns_b\n",
        },
    )
    result = analyze([tmp_path / "proj/scripts/run.py"], AnalyzeOptions(spec_dir=tmp_path))
    assert {"pkgtool_ns_a", "pkgtool_ns_b"} <= modules(result)
    assert [(c.root, c.include) for c in result.spec.code] == [
        ("proj/scripts", ("labns/a.py",)),
        ("proj/src", ("labns/b.py",)),
    ]


def test_project_root_search(tmp_path: Path) -> None:
    write_tree(tmp_path, {"home/me/proj/.git/HEAD": "", "home/me/proj/a/b/x.py": ""})
    home = tmp_path / "home" / "me"
    assert project_root(home / "proj/a/b", home) == home / "proj"
    assert project_root(home / "proj", home) == home / "proj"
    (home / ".git").mkdir()
    assert project_root(home, home) is None  # the home directory is never a project root
    assert project_root(home / "other", home) is None
    (home / "proj/src").mkdir()
    assert import_roots(home / "proj/a/b", None, home) == (
        home / "proj/a/b",
        home / "proj",
        home / "proj/src",
    )
    assert import_roots(home / "proj", home / "proj", home) == (home / "proj", home / "proj/src")


# ------------------------------------------------------------------ determinism


@pytest.mark.parametrize("case", ["notebook", "srclayout", "py2"])
def test_same_spec_every_time_and_everywhere(tmp_path: Path, case: str) -> None:
    first = copy_case(case, tmp_path / "one")
    second = copy_case(case, tmp_path / "two")
    texts = [
        analyze([root], AnalyzeOptions(spec_dir=root)).spec.to_json()
        for root in (first, first, second)
    ]
    assert texts[0] == texts[1] == texts[2]


def test_unreadable_script_is_input_error_for_its_user(tmp_path: Path) -> None:
    """A script its user may not read (chmod 000) is InputError, exit 3, naming it. Checked
    in a child that became uid 65534: root reads any file, whatever its mode, so a test as
    root alone could never fail."""
    if os.geteuid() != 0:
        pytest.skip("needs root to become uid 65534")
    script = tmp_path / "job.py"
    script.write_text("import yaml\n")
    script.chmod(0o000)
    tmp_path.chmod(0o755)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child reports the exit code and message, then leaves at once
        os.close(read)
        os.chdir(tmp_path)  # as root: pytest's parents of tmp_path are 0700
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
        try:
            collect_entries([Path("job.py")], None)
            report = "no error"
        except InputError as exc:
            report = f"{exc.exit_code} {exc.message}"
        except BaseException as exc:  # noqa: BLE001 - any other outcome is reported
            report = f"other {type(exc).__name__}: {exc}"
        os.write(write, report.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        report = fh.read().decode()
    os.waitpid(child, 0)
    assert report == "3 cannot read script job.py: Permission denied", report
