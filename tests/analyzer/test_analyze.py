"""End-to-end tests of :func:`pkgtool.analyzer.analyze` on real files (no mocks)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from analyzer._records import modules, record, write_tree
from pkgtool.analyzer import AnalysisResult, AnalyzeOptions, Problem, analyze
from pkgtool.errors import EXIT_INPUT, InputError, UsageError
from pkgtool.spec import ImportRecord, Spec

CASES = Path(__file__).resolve().parent.parent / "cases"
RUNNING = f"{sys.version_info[0]}.{sys.version_info[1]}"


def run(
    tmp_path: Path, files: dict[str, str], script: str = "main.py", **options: object
) -> AnalysisResult:
    write_tree(tmp_path, files)
    opts = AnalyzeOptions(spec_dir=tmp_path, **options)  # type: ignore[arg-type]
    return analyze([tmp_path / script], opts)


# ------------------------------------------------------------------ the multifile case


@pytest.fixture
def multifile(tmp_path: Path) -> Path:
    """A private copy of ``tests/cases/multifile`` (so no __pycache__ lands in the tree)."""
    return Path(shutil.copytree(CASES / "multifile", tmp_path / "multifile"))


def test_multifile_spec(multifile: Path) -> None:
    result = analyze([multifile / "analysis.py"], AnalyzeOptions(spec_dir=multifile))
    spec = result.spec
    assert result.problems == ()
    assert spec.channels == ("conda-forge",)
    assert spec.dependencies == (f"python={RUNNING}", "pip")
    assert spec.pip == (
        f"numpy=={metadata.version('numpy')}",
        f"PyYAML=={metadata.version('PyYAML')}",
    )
    assert len(spec.code) == 1
    assert spec.code[0].root == "."
    assert spec.code[0].include == (
        "helpers/__init__.py",
        "helpers/stats.py",
        "helpers/util.py",
        "plugins/scale.py",
    )
    assert spec.analysis is not None
    assert spec.analysis.python == ".".join(map(str, sys.version_info[:3]))
    assert spec.analysis.entry_points == ("analysis.py",)
    assert [r.module for r in result.imports] == ["helpers", "numpy", "plugins", "scipy", "yaml"]
    assert result.imports == spec.analysis.imports
    helpers = record(result, "helpers")
    assert (helpers.installer, helpers.distribution, helpers.version) == ("local", None, None)
    assert "helpers/stats.py:7" in helpers.sites  # from . import util
    yaml = record(result, "yaml")
    assert (yaml.distribution, yaml.installer) == ("PyYAML", "pip")
    assert yaml.sites == ("analysis.py:13",)
    scipy = record(result, "scipy")
    assert scipy.optional
    assert scipy.sites == ("analysis.py:18", "helpers/stats.py:10")


def test_multifile_spec_round_trips_through_validation(multifile: Path) -> None:
    spec = analyze([multifile / "analysis.py"], AnalyzeOptions(spec_dir=multifile)).spec
    assert Spec.from_dict(json.loads(spec.to_json())) == spec


def test_multifile_case_runs_here(multifile: Path) -> None:
    done = subprocess.run(
        [sys.executable, "analysis.py"],
        cwd=multifile,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == "mean=2.5 n=4\n"


def test_spec_dir_elsewhere_gives_relative_paths(tmp_path: Path) -> None:
    project = Path(shutil.copytree(CASES / "multifile", tmp_path / "project"))
    out = tmp_path / "out"
    out.mkdir()
    spec = analyze([project / "analysis.py"], AnalyzeOptions(spec_dir=out)).spec
    assert len(spec.code) == 1 and spec.code[0].root == "../project"
    assert spec.code[0].include[0] == "helpers/__init__.py"
    assert spec.analysis is not None
    assert spec.analysis.entry_points == ("../project/analysis.py",)
    assert "../project/analysis.py:13" in record_of(spec, "yaml").sites


def record_of(spec: Spec, module: str) -> ImportRecord:
    assert spec.analysis is not None
    return next(r for r in spec.analysis.imports if r.module == module)


def test_spec_holds_no_absolute_path(multifile: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(multifile.parent)
    spec = analyze([multifile / "analysis.py"], AnalyzeOptions(spec_dir=Path("."))).spec
    text = spec.to_json()
    assert str(multifile.parent) not in text
    strings: list[str] = []

    def collect(value: object) -> None:
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                collect(v)
        elif isinstance(value, list):
            for v in value:
                collect(v)

    collect(json.loads(text))
    assert strings and not [s for s in strings if s.startswith("/")]
    assert len(spec.code) == 1 and spec.code[0].root == "multifile"


# ------------------------------------------------------------------ classification


def test_classification(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        {
            "main.py": """\
            import os, json
            import collections.abc
            from __future__ import annotations
            import numpy
            import helper
            import importlib
            from typing import TYPE_CHECKING
            try:
                import pkgtool_surely_absent_a
            except ImportError:
                pkgtool_surely_absent_a = None
            if TYPE_CHECKING:
                import pkgtool_surely_absent_b
            mod = __import__("pkgtool_surely_absent_c")
            other = importlib.import_module("yaml")
            name = "x"
            ignored = importlib.import_module(name)
            """,
            "helper.py": "VALUE = 1\n",
        },
    )
    assert result.problems == ()
    assert modules(result) == {
        "helper",
        "numpy",
        "pkgtool_surely_absent_a",
        "pkgtool_surely_absent_b",
        "pkgtool_surely_absent_c",
        "yaml",
    }
    assert record(result, "helper").installer == "local"
    assert record(result, "numpy").installer == "pip"
    a, b = record(result, "pkgtool_surely_absent_a"), record(result, "pkgtool_surely_absent_b")
    assert a.optional and b.optional
    c = record(result, "pkgtool_surely_absent_c")
    assert (c.kind, c.optional, c.version, c.distribution) == (
        "dynamic",
        False,
        None,
        "pkgtool_surely_absent_c",
    )
    assert record(result, "yaml").kind == "dynamic"
    assert record(result, "numpy").kind == "import"
    assert result.spec.pip == (
        f"numpy=={metadata.version('numpy')}",
        "pkgtool_surely_absent_c",
        f"PyYAML=={metadata.version('PyYAML')}",
    )
    assert len(result.spec.code) == 1 and result.spec.code[0].include == ("helper.py",)


@pytest.mark.parametrize(
    "handler",
    [
        "except ImportError",
        "except ModuleNotFoundError",
        "except (ValueError, ImportError)",
        "except Exception",
        "except",
        "except builtins.ImportError as exc",
    ],
)
def test_optional_handlers(tmp_path: Path, handler: str) -> None:
    source = f"try:\n    import pkgtool_absent\n{handler}:\n    pass\n"
    result = run(tmp_path, {"main.py": source})
    assert record(result, "pkgtool_absent").optional
    assert result.spec.pip == ()
    assert result.spec.dependencies == (f"python={RUNNING}",)


def test_other_handlers_do_not_make_imports_optional(tmp_path: Path) -> None:
    source = "try:\n    import pkgtool_absent\nexcept KeyError:\n    pass\n"
    result = run(tmp_path, {"main.py": source})
    assert not record(result, "pkgtool_absent").optional
    assert result.spec.dependencies == (f"python={RUNNING}", "pip")


def test_fallback_in_handler_is_required(tmp_path: Path) -> None:
    source = """\
    try:
        import pkgtool_fast_json as fast
    except ImportError:
        import pkgtool_slow_json as fast
    """
    result = run(tmp_path, {"main.py": source})
    assert record(result, "pkgtool_fast_json").optional
    assert not record(result, "pkgtool_slow_json").optional


def test_conditions_on_target_version_and_platform(tmp_path: Path) -> None:
    files = {
        "main.py": """\
        import sys, os
        if sys.version_info >= (3, 11):
            import tomllib
        else:
            import tomli as tomllib
        if sys.platform == "win32":
            import pkgtool_windows_only
        if os.name == "posix":
            import pkgtool_posix_only
        """
    }
    new = run(tmp_path, files, python_version="3.11")
    assert record(new, "tomli").optional
    assert "tomllib" not in modules(new)
    assert record(new, "pkgtool_windows_only").optional
    assert not record(new, "pkgtool_posix_only").optional
    old = run(tmp_path, files, python_version="3.10")
    assert not record(old, "tomli").optional
    assert "tomllib" not in modules(old)  # standard library of 3.11+: a finding on 3.10
    assert [(f.line, f.module) for f in old.findings] == [(3, "tomllib")]


def test_main_block_of_imported_module_is_optional(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        {
            "main.py": "import tool\nif __name__ == '__main__':\n    import pkgtool_main_only\n",
            "tool.py": "if __name__ == '__main__':\n    import pkgtool_tool_cli\n",
        },
    )
    assert not record(result, "pkgtool_main_only").optional
    assert record(result, "pkgtool_tool_cli").optional


def test_optionally_imported_local_module_makes_its_imports_optional(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        {
            "main.py": "try:\n    import extras\nexcept ImportError:\n    extras = None\n",
            "extras.py": "import pkgtool_extra_dependency\n",
        },
    )
    assert record(result, "pkgtool_extra_dependency").optional
    assert result.spec.pip == ()
    assert len(result.spec.code) == 1 and result.spec.code[0].include == ("extras.py",)


# ------------------------------------------------------------------ local code


def test_relative_imports(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        {
            "main.py": "from pkg.sub import mod\nfrom . import nothing\n",
            "pkg/__init__.py": "from .core import *\n",
            "pkg/core.py": "__all__ = ['starred']\nfrom .. import beyond_top\n",
            "pkg/starred.py": "import pkgtool_from_star\n",
            "pkg/sub/__init__.py": "from ..core import x\n",
            "pkg/sub/mod.py": "from . import sibling\nfrom .sibling import y\nimport numpy\n",
            "pkg/sub/sibling.py": "from ...pkg import core\n",
            "pkg/unused.py": "import pkgtool_never_reached\n",
        },
    )
    assert result.problems == ()
    assert len(result.spec.code) == 1
    assert result.spec.code[0].include == (
        "pkg/__init__.py",
        "pkg/core.py",
        "pkg/sub/__init__.py",
        "pkg/sub/mod.py",
        "pkg/sub/sibling.py",
    )
    assert modules(result) == {"pkg", "numpy"}
    assert record(result, "pkg").sites == (
        "main.py:1",
        "pkg/__init__.py:1",
        "pkg/sub/__init__.py:1",
        "pkg/sub/mod.py:1",
        "pkg/sub/mod.py:2",
    )


def test_star_import_follows_literal_all(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        {
            "main.py": "from pkg import *\n",
            "pkg/__init__.py": "__all__ = ['a']\n__all__ += ['b']\n",
            "pkg/a.py": "import pkgtool_dep_a\n",
            "pkg/b.py": "import pkgtool_dep_b\n",
            "pkg/c.py": "import pkgtool_dep_c\n",
        },
    )
    assert modules(result) == {"pkg", "pkgtool_dep_a", "pkgtool_dep_b"}


def test_namespace_packages(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        {
            "main.py": "import ns.one\nfrom ns import two\n"
            "from ns.deep import three\nimport yaml\n",
            "ns/one.py": "from . import two\n",
            "ns/two.py": "import pkgtool_ns_dep\n",
            "ns/deep/three.py": "X = 3\n",
            "ns/data.txt": "not code\n",
            # A directory named like an installed distribution does not shadow it (PEP 420).
            "yaml/notes.py": "X = 1\n",
            # A directory without Python files is no namespace package for pkgtool.
            "assets/readme.txt": "x\n",
        },
    )
    assert len(result.spec.code) == 1
    assert result.spec.code[0].include == ("ns/deep/three.py", "ns/one.py", "ns/two.py")
    assert record(result, "ns").installer == "local"
    assert record(result, "yaml").distribution == "PyYAML"
    assert record(result, "pkgtool_ns_dep").sites == ("ns/two.py:1",)


def test_local_module_shadows_distribution_and_stdlib(tmp_path: Path) -> None:
    case = Path(shutil.copytree(CASES / "shadowing", tmp_path / "shadowing"))
    result = analyze([case / "main.py"], AnalyzeOptions(spec_dir=case))
    assert {r.module: r.installer for r in result.imports} == {"json": "local", "yaml": "local"}
    assert result.spec.pip == ()
    assert result.spec.dependencies == (f"python={RUNNING}",)
    assert len(result.spec.code) == 1
    assert result.spec.code[0].include == ("json.py", "yaml.py")  # os is never shadowed
    done = subprocess.run(
        [sys.executable, "main.py"], cwd=case, capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("local yaml local json ")


def test_submodule_that_is_an_attribute(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        {
            "main.py": "from helper import CONSTANT, sub\n",
            "helper/__init__.py": "CONSTANT = 1\n",
            "helper/sub.py": "import pkgtool_sub_dep\n",
        },
    )
    assert len(result.spec.code) == 1
    assert result.spec.code[0].include == ("helper/__init__.py", "helper/sub.py")
    assert "pkgtool_sub_dep" in modules(result)


def test_scripts_in_two_directories(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "a/main.py": "import util_a\n",
            "a/util_a.py": "import numpy\n",
            "b/tool.py": "import util_b\nimport util_a\n",
            "b/util_b.py": "import yaml\n",
        },
    )
    result = analyze(
        [tmp_path / "a/main.py", tmp_path / "b/tool.py", tmp_path / "a/main.py"],
        AnalyzeOptions(spec_dir=tmp_path),
    )
    spec = result.spec
    assert spec.analysis is not None
    assert spec.analysis.entry_points == ("a/main.py", "b/tool.py")
    # Each script's directory is its own import root, hence its own code section (it
    # used to be one section rooted at a/ holding "../b/util_b.py").
    assert [(c.root, c.include) for c in spec.code] == [
        ("a", ("util_a.py",)),
        ("b", ("util_b.py",)),
    ]
    # util_a is local next to main.py only, but bundled it is importable from tool.py too.
    assert record(result, "util_a").installer == "local"
    assert record(result, "util_a").sites == ("a/main.py:1", "b/tool.py:2")
    assert {r.module for r in result.imports if r.installer == "pip"} >= {"numpy", "yaml"}


# ------------------------------------------------------------------ filters


FILTER_SCRIPT = """\
import numpy
if True:
    import yaml
class Model:
    import pkgtool_class_body
    def fit(self):
        import pkgtool_in_method
def work():
    import pkgtool_in_work
    def inner():
        import pkgtool_in_inner
def other():
    import pkgtool_in_other
import helper
"""


def test_toplevel_filter(tmp_path: Path) -> None:
    files = {
        "main.py": FILTER_SCRIPT,
        "helper.py": "import pkgtool_helper_top\ndef f():\n    import pkgtool_helper_lazy\n",
    }
    everything = run(tmp_path, files)
    assert {"pkgtool_in_other", "pkgtool_helper_lazy", "pkgtool_class_body"} <= modules(everything)
    top = run(tmp_path, files, toplevel=True)
    assert modules(top) == {"numpy", "yaml", "helper", "pkgtool_helper_top"}


def test_function_filter(tmp_path: Path) -> None:
    files = {"main.py": FILTER_SCRIPT, "helper.py": "def f():\n    import pkgtool_lazy\n"}
    work = run(tmp_path, files, function="work")
    assert modules(work) == {"numpy", "yaml", "helper", "pkgtool_in_work", "pkgtool_in_inner"}
    method = run(tmp_path, files, function="Model.fit")
    assert modules(method) == {"numpy", "yaml", "helper", "pkgtool_in_method"}


# ------------------------------------------------------------------ problems and errors


def test_syntax_error_is_a_problem_and_other_files_are_analysed(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "main.py": "import broken\nimport fine\nimport numpy\n",
            "broken.py": "import yaml\n\ndef oops(:\n    pass\n",
            "fine.py": "import pkgtool_fine_dep\n",
            "other.py": 'import pkgtool_other_dep\nprint("unclosed"\n',
        },
    )
    result = analyze(
        [tmp_path / "main.py", tmp_path / "other.py"], AnalyzeOptions(spec_dir=tmp_path)
    )
    assert [(p.path, p.line) for p in result.problems] == [
        (str(tmp_path / "other.py"), 2),
        (str(tmp_path / "broken.py"), 3),
    ]
    assert str(result.problems[1]).startswith(f"{tmp_path / 'broken.py'}:3: syntax error")
    assert {"numpy", "pkgtool_fine_dep", "broken", "fine"} <= modules(result)


def test_problem_paths_follow_the_given_script_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(
        tmp_path,
        {
            "proj/main.py": "import pkg.bad\n",
            "proj/pkg/__init__.py": "",
            "proj/pkg/bad.py": "x = (\n",
        },
    )
    monkeypatch.chdir(tmp_path)
    result = analyze([Path("proj/main.py")], AnalyzeOptions())
    assert [str(p).split(": ")[0] for p in result.problems] == ["proj/pkg/bad.py:1"]


@pytest.mark.parametrize(
    "content",
    [
        b"import os\x00\n",
        b"x = '\xff\xfe'\n",
        b"# -*- coding: no-such-codec -*-\nimport os\n",
        b"\xef\xbb\xbfimport numpy\n\xff",
    ],
)
def test_undecodable_files_are_problems(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "main.py").write_bytes(content)
    result = analyze([tmp_path / "main.py"], AnalyzeOptions(spec_dir=tmp_path))
    assert len(result.problems) == 1
    assert result.problems[0].path == str(tmp_path / "main.py")


def test_missing_script_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        analyze([tmp_path / "nope.py"], AnalyzeOptions(spec_dir=tmp_path))
    assert info.value.exit_code == EXIT_INPUT
    assert str(info.value).startswith(f"cannot read script {tmp_path / 'nope.py'}: ")
    assert info.value.hint


def test_directory_as_script_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        analyze([tmp_path], AnalyzeOptions(spec_dir=tmp_path))


@pytest.mark.parametrize("version", ["3", "three.eleven", "2.7", "3.7", "4.0"])
def test_bad_python_version_is_usage_error(tmp_path: Path, version: str) -> None:
    (tmp_path / "main.py").write_text("import os\n")
    with pytest.raises(UsageError):
        analyze([tmp_path / "main.py"], AnalyzeOptions(python_version=version))


def test_problem_str() -> None:
    assert str(Problem("a/b.py", 3, "syntax error: x")) == "a/b.py:3: syntax error: x"
    assert str(Problem("a/b.py", None, "cannot read")) == "a/b.py: cannot read"


def test_analysing_never_executes_code(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    payload = f"open({str(marker)!r}, 'w').write('ran')\nraise SystemExit(7)\n"
    result = run(
        tmp_path,
        {
            "main.py": payload + "import helper\n",
            "helper.py": payload,
            "pkg/__init__.py": payload,
            "user.py": "import helper, pkg\n" + payload,
        },
        script="user.py",
    )
    assert not marker.exists()
    assert modules(result) == {"helper", "pkg"}


# ------------------------------------------------------------------ target Python


def test_stdlib_depends_on_target_version(tmp_path: Path) -> None:
    files = {"main.py": "import distutils.core\nimport asyncore\nimport tomllib\n"}
    old = run(tmp_path, files, python_version="3.11")
    assert modules(old) == set()
    assert old.spec.dependencies == ("python=3.11",)
    assert old.spec.analysis is not None and old.spec.analysis.python == (
        ".".join(map(str, sys.version_info[:3])) if RUNNING == "3.11" else "3.11"
    )
    new = run(tmp_path, files, python_version="3.12")
    # distutils has a table entry (setuptools provides it again); asyncore left the
    # standard library in 3.12 (PEP 594): reported, never a distribution
    assert modules(new) == {"distutils"}
    assert record(new, "distutils").distribution == "setuptools"
    assert [(f.module, f.message) for f in new.findings] == [
        ("asyncore", "standard library of Python 3.2 to 3.11, not of 3.12")
    ]
    assert new.spec.dependencies[0] == "python=3.12"
    older = run(tmp_path, files, python_version="3.10")
    assert modules(older) == set()
    assert [f.module for f in older.findings] == ["tomllib"]
    assert older.spec.analysis is not None
    if RUNNING != "3.10":
        assert older.spec.analysis.python == "3.10"


def test_newer_target_than_table_uses_newest_list(tmp_path: Path) -> None:
    result = run(tmp_path, {"main.py": "import annotationlib\n"}, python_version="3.19")
    assert result.imports == ()
    assert result.spec.dependencies == ("python=3.19",)


# ------------------------------------------------------------------ distributions


def test_numpy_is_pinned_to_installed_version(tmp_path: Path) -> None:
    result = run(tmp_path, {"main.py": "import numpy.linalg as la\n"})
    numpy = record(result, "numpy")
    assert numpy.version == metadata.version("numpy")
    assert numpy.distribution == "numpy"
    assert result.spec.pip == (f"numpy=={metadata.version('numpy')}",)


def test_mapping_table_for_names_not_installed(tmp_path: Path) -> None:
    absent = {"sklearn", "cv2", "bs4", "google"}
    installed = metadata.packages_distributions()
    if absent & set(installed):
        pytest.skip(f"needs {sorted(absent & set(installed))} not installed")
    result = run(
        tmp_path,
        {
            "main.py": """\
            from sklearn.linear_model import LinearRegression
            import cv2
            from bs4 import BeautifulSoup
            from google.cloud import storage
            import google.protobuf.message
            """
        },
    )
    got = {r.module: (r.distribution, r.version, r.installer) for r in result.imports}
    assert got == {
        "sklearn": ("scikit-learn", None, "pip"),
        "cv2": ("opencv-python", None, "pip"),
        "bs4": ("beautifulsoup4", None, "pip"),
        "google.cloud.storage": ("google-cloud-storage", None, "pip"),
        "google.protobuf": ("protobuf", None, "pip"),
    }
    assert result.spec.pip == (
        "beautifulsoup4",
        "google-cloud-storage",
        "opencv-python",
        "protobuf",
        "scikit-learn",
    )


def test_pkg_mapping_wins(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        {
            "main.py": "import yaml\nimport sklearn\nimport helper\nimport corp.tools.x\n",
            "helper.py": "",
        },
        pkg_mapping={"yaml": "my-yaml", "helper": "helper-dist", "corp.tools": "corp-tools"},
    )
    got = {r.module: (r.distribution, r.installer) for r in result.imports}
    assert got == {
        "yaml": ("my-yaml", "pip"),
        "sklearn": ("scikit-learn", "pip"),
        "helper": ("helper-dist", "pip"),
        "corp.tools": ("corp-tools", "pip"),
    }
    assert result.spec.code == ()
    assert set(result.spec.pip) == {"my-yaml", "scikit-learn", "helper-dist", "corp-tools"}


@pytest.mark.parametrize("mapping", [{"yaml": "not a name"}, {"bad-import": "x"}, {"": "x"}])
def test_invalid_pkg_mapping_is_usage_error(tmp_path: Path, mapping: dict[str, str]) -> None:
    (tmp_path / "main.py").write_text("import yaml\n")
    with pytest.raises(UsageError):
        analyze([tmp_path / "main.py"], AnalyzeOptions(pkg_mapping=mapping))


def test_no_script_is_usage_error() -> None:
    with pytest.raises(UsageError):
        analyze([], AnalyzeOptions())


def test_invalid_distribution_guess_is_not_a_requirement(tmp_path: Path) -> None:
    result = run(tmp_path, {"main.py": "import _pkgtool_private\nimport ñame\n"})
    assert {r.module: r.distribution for r in result.imports} == {
        "_pkgtool_private": None,
        "ñame": None,
    }
    assert result.spec.pip == ()
    Spec.from_dict(result.spec.to_dict())
