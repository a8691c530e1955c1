"""The analyzer on import patterns taken from real public code (issue 9).

Each test names where the pattern was seen; the snippets are reduced to their imports.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer._records import modules, record, write_tree
from pkgtool.analyzer import AnalysisResult, AnalyzeOptions, analyze


def run(
    tmp_path: Path, files: dict[str, str], script: str = "main.py", **options: object
) -> AnalysisResult:
    write_tree(tmp_path, files)
    opts = AnalyzeOptions(spec_dir=tmp_path, cache=False, **options)  # type: ignore[arg-type]
    return analyze([tmp_path / script], opts)


def required(result: AnalysisResult) -> set[str]:
    return {r.module for r in result.imports if not r.optional and r.installer != "local"}


# ------------------------------------------------------------------ guarded imports


def test_python2_fallbacks_in_handlers_are_never_emitted(tmp_path: Path) -> None:
    # aboul3la/Sublist3r subbrute/subbrute.py and many Python 2/3 scripts
    result = run(
        tmp_path,
        {
            "main.py": """\
            import dns.resolver
            try:
                import queue as Queue
            except:
                import Queue
            try:
                from urllib.request import urlopen
                from urllib.parse import urlparse
            except ImportError:
                from urllib2 import urlopen
                from urlparse import urlparse
            try:
                import cPickle as pickle
            except ImportError:
                import pickle
            """
        },
    )
    assert modules(result) == {"dns"}
    assert record(result, "dns").distribution == "dnspython"
    # reported, never emitted, whether or not they run on the target
    assert [f.module for f in result.findings] == ["Queue", "urllib2", "urlparse", "cPickle"]


def test_backport_beside_stdlib_depends_on_the_target(tmp_path: Path) -> None:
    # the tomllib/tomli shim of pip, black, pytest; importlib.metadata's backport
    files = {
        "main.py": """\
        try:
            import tomllib
        except ModuleNotFoundError:
            import tomli as tomllib
        try:
            from importlib.metadata import version
        except ImportError:
            from importlib_metadata import version
        """
    }
    new = run(tmp_path, files, python_version="3.11")
    assert required(new) == set()
    assert record(new, "tomli").optional and record(new, "importlib_metadata").optional
    old = run(tmp_path, files, python_version="3.10")
    assert required(old) == {"tomli"}


def test_guarded_import_whose_handler_exits_is_required(tmp_path: Path) -> None:
    # command-line tools: print an install hint, then sys.exit / quit (s0md3v/Photon)
    result = run(
        tmp_path,
        {
            "main.py": """\
            import sys
            try:
                import requests
            except ImportError:
                print("requests is missing: pip install requests")
                sys.exit(1)
            try:
                import tld
            except ImportError:
                quit()
            """
        },
    )
    assert required(result) == {"requests", "tld"}


def test_guarded_import_whose_handler_raises_is_required(tmp_path: Path) -> None:
    # libraries: ``raise ImportError("... requires pandas") from err``
    result = run(
        tmp_path,
        {
            "main.py": """\
            try:
                import pandas as pd
            except ImportError as err:
                raise ImportError("this tool requires pandas: pip install pandas") from err
            try:
                import orjson as json
            except ImportError:
                import warnings
                warnings.warn("orjson not found, using json")
                import json
            """
        },
    )
    assert required(result) == {"pandas"}
    assert record(result, "orjson").optional


def test_guarded_import_installed_and_retried_is_required(tmp_path: Path) -> None:
    # one-file scripts and notebooks that install what is missing and import again
    result = run(
        tmp_path,
        {
            "main.py": """\
            import subprocess, sys
            try:
                import rich
            except ImportError:
                subprocess.check_call([sys.executable, "-m", "pip", "install", "rich"])
                import rich
            try:
                import tqdm
            except ImportError:
                print("optional: pip install tqdm for progress bars")
                tqdm = None
            """
        },
    )
    assert required(result) == {"rich"}
    assert record(result, "tqdm").optional


# ------------------------------------------------------------------ unknown names


def test_generated_and_relative_dynamic_modules_are_not_distributions(tmp_path: Path) -> None:
    # gRPC's Python quick start (helloworld_pb2, not generated yet) and plugin loaders
    result = run(
        tmp_path,
        {
            "main.py": """\
            import importlib
            import helloworld_pb2
            import helloworld_pb2_grpc
            backend = importlib.import_module(".backends.fast", package="mytool")
            """
        },
    )
    assert modules(result) == set()
    assert [f.module for f in result.findings] == [
        "helloworld_pb2",
        "helloworld_pb2_grpc",
        "mytool.backends.fast",
    ]


def test_unknown_name_under_a_shared_namespace_is_unresolved(tmp_path: Path) -> None:
    # Colab notebooks: google.colab is no distribution of the index under that name
    result = run(
        tmp_path,
        {"main.py": "from google.pkgtool_unknown_api import drive\nimport google.protobuf\n"},
    )
    unknown = record(result, "google.pkgtool_unknown_api")
    assert unknown.distribution is None
    assert record(result, "google.protobuf").distribution == "protobuf"
    assert "google" not in " ".join(result.spec.pip)
    assert [f.module for f in result.findings] == ["google.pkgtool_unknown_api"]
    assert "--pkg-mapping google.pkgtool_unknown_api=" in result.findings[0].hint


def test_local_namespace_dir_claims_only_what_it_holds(tmp_path: Path) -> None:
    # Student Robotics: a local sr/robot/ portion beside ``import sr.comp`` (sr.comp dist)
    result = run(
        tmp_path,
        {
            "sr/robot/__init__.py": "",
            "main.py": "import sr.robot\nimport sr.pkgtool_comp\nfrom sr import pkgtool_other\n",
        },
    )
    assert record(result, "sr").installer == "local"
    # not swallowed by the local directory, and not guessed as the ``sr`` distribution
    assert record(result, "sr.pkgtool_comp").distribution is None
    assert record(result, "sr.pkgtool_other").distribution is None
    assert [f.module for f in result.findings] == ["sr.pkgtool_comp", "sr.pkgtool_other"]


# ------------------------------------------------------------------ project layouts


def test_file_inside_a_regular_package_is_a_module_of_it(tmp_path: Path) -> None:
    # pkg/cli.py run as ``python -m pkg.cli``; pytorch/examples' neural_style/neural_style.py
    # imports its siblings as top-level modules (run as a script): both resolve locally
    result = run(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/cli.py": """\
            from . import core
            from .util import helper
            import pkg.core
            import sibling
            from .missing import thing
            """,
            "pkg/core.py": "import numpy\n",
            "pkg/util.py": "def helper(): pass\n",
            "pkg/sibling.py": "import yaml\n",
        },
        script="pkg/cli.py",
    )
    assert {r.module for r in result.imports if r.installer != "local"} == {"numpy", "yaml"}
    assert "pkg" not in " ".join(result.spec.pip)
    assert [(f.line, f.module) for f in result.findings] == [(5, ".missing")]


def test_relative_import_in_a_plain_script_is_reported(tmp_path: Path) -> None:
    result = run(tmp_path, {"main.py": "from .config import settings\nimport numpy\n"})
    assert modules(result) == {"numpy"}
    assert [f.message for f in result.findings] == [
        "relative import cannot be followed (no parent package)"
    ]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("setup.py", "from setuptools import setup\nsetup(package_dir={'': 'lib'})\n"),
        ("setup.cfg", "[options]\npackage_dir =\n    =lib\n"),
        ("pyproject.toml", '[tool.setuptools.package-dir]\n"" = "lib"\n'),
        ("pyproject.toml", '[tool.poetry]\npackages = [{include = "mylib", from = "lib"}]\n'),
        ("pyproject.toml", '[tool.hatch.build.targets.wheel]\npackages = ["lib/mylib"]\n'),
        ("pyproject.toml", '[tool.pdm.build]\npackage-dir = "lib"\n'),
    ],
)
def test_package_dir_from_project_metadata(tmp_path: Path, name: str, text: str) -> None:
    # a package under lib/ (setuptools package_dir and its hatch/poetry/pdm spellings)
    result = run(
        tmp_path,
        {
            name: text,
            "lib/mylib/__init__.py": "import numpy\n",
            "scripts/main.py": "import mylib\n",
        },
        script="scripts/main.py",
    )
    assert record(result, "mylib").installer == "local"
    assert {r.module for r in result.imports if r.installer != "local"} == {"numpy"}


def test_nested_subproject_is_an_import_root(tmp_path: Path) -> None:
    # monorepos: packages/core/ with its own pyproject.toml and src/ layout
    result = run(
        tmp_path,
        {
            "pyproject.toml": "[project]\nname = 'app'\n",
            "packages/core/pyproject.toml": "[project]\nname = 'app-core'\n",
            "packages/core/src/app_core/__init__.py": "import yaml\n",
            "scripts/main.py": "import app_core\n",
        },
        script="scripts/main.py",
    )
    assert record(result, "app_core").installer == "local"
    assert {r.module for r in result.imports if r.installer != "local"} == {"yaml"}


# ------------------------------------------------------------------ the user's environment


def _venv_with(path: Path, dist: str, version: str, top: str) -> Path:
    """A real venv (no pip) with one installed distribution's metadata in it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    site = next(path.glob("lib/python3*/site-packages"))
    info = site / f"{dist}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "top_level.txt").write_text(f"{top}\n")
    (info / "RECORD").write_text(f"{top}/__init__.py,,\n{info.name}/METADATA,,\n")
    (site / top).mkdir()
    (site / top / "__init__.py").write_text("")
    return path


def test_versions_come_from_the_active_venv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = _venv_with(tmp_path / "user-env", "pkgtool-user-dist", "4.5.6", "pkgtool_user_mod")
    monkeypatch.setenv("VIRTUAL_ENV", str(user))
    result = run(tmp_path / "code", {"main.py": "import pkgtool_user_mod\nimport yaml\n"})
    # PyYAML is installed for pkgtool, not in the user's venv: not pinned
    assert result.spec.pip == ("pkgtool-user-dist==4.5.6", "PyYAML")
    assert result.spec.analysis is not None
    assert result.spec.analysis.environment is not None
    assert result.spec.analysis.environment.startswith("VIRTUAL_ENV: user-env (Python ")
    assert str(tmp_path) not in result.spec.to_json()  # never an absolute path


def test_versions_come_from_conda_prefix_then_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conda = _venv_with(tmp_path / "condaenv", "pkgtool-conda-dist", "1.0", "pkgtool_conda_mod")
    monkeypatch.delenv("VIRTUAL_ENV")
    monkeypatch.setenv("CONDA_PREFIX", str(conda))
    result = run(tmp_path / "a", {"main.py": "import pkgtool_conda_mod\n"})
    assert result.spec.pip == ("pkgtool-conda-dist==1.0",)
    monkeypatch.delenv("CONDA_PREFIX")
    monkeypatch.setenv("PATH", str(conda / "bin"))
    on_path = run(tmp_path / "b", {"main.py": "import pkgtool_conda_mod\n"})
    assert on_path.spec.analysis is not None and on_path.spec.analysis.environment is not None
    assert on_path.spec.analysis.environment.startswith("PATH: condaenv")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    nothing = run(tmp_path / "c", {"main.py": "import pkgtool_conda_mod\n"})
    assert nothing.spec.pip == ("pkgtool_conda_mod",)
    assert nothing.spec.analysis is not None
    assert nothing.spec.analysis.environment == "none (no versions pinned)"
    assert os.environ["PATH"] == str(tmp_path / "empty")


def test_unknown_submodule_of_a_single_distribution_namespace(tmp_path: Path) -> None:
    # mistralai's wheel ships portions only (mistralai/client/...): not a shared namespace
    result = run(tmp_path, {"main.py": "from mistralai import Mistral\n"})
    assert record(result, "mistralai").distribution == "mistralai"
    assert result.findings == ()
