"""The analyzer mechanisms of issue 23, each on trimmed real public code.

The files are under ``tests/cases/issue23/<case>/``, each with a README naming the
repository, path, commit and licence they come from. None of them was used while the
mechanisms were written; each test copies its case to a temporary directory.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer._records import modules, record
from pkgtool.analyzer import AnalysisResult, AnalyzeOptions, analyze

CASES = Path(__file__).resolve().parent.parent / "cases" / "issue23"


def copy_case(name: str, tmp_path: Path) -> Path:
    """A private copy of ``tests/cases/issue23/<name>`` (its README left out)."""
    dest = tmp_path / name
    shutil.copytree(CASES / name, dest, ignore=shutil.ignore_patterns("README.md"))
    return dest


def run(scripts: list[Path], spec_dir: Path, **options: object) -> AnalysisResult:
    opts = AnalyzeOptions(spec_dir=spec_dir, cache=False, **options)  # type: ignore[arg-type]
    return analyze(scripts, opts)


def required(result: AnalysisResult) -> set[str]:
    return {r.module for r in result.imports if not r.optional and r.installer != "local"}


def test_entry_under_namespace_dirs_naming_its_own_path_is_an_import_root(
    tmp_path: Path,
) -> None:
    # sourcebots/srcomp-cli: sr/comp/cli/__main__.py, sr/ and sr/comp/ hold only .pyi
    case = copy_case("namespace-entry", tmp_path)
    result = run([case / "sr/comp/cli/__main__.py"], case)
    assert "sr" not in {r.distribution for r in result.imports}
    assert record(result, "sr").installer == "local"
    assert record(result, "league_ranker").distribution is not None
    assert "league_ranker" in required(result)
    (section,) = result.spec.code
    assert section.root == "."
    assert "sr/comp/cli/command_line.py" in section.include
    assert "sr/comp/cli/show_league_table.py" in section.include
    # the portions of the sr.comp distribution are not taken for local code
    assert not any(f.startswith("sr/comp/scores") for f in section.include)
    assert record(result, "sr.comp").installer != "local"
    assert modules(result) == {"league_ranker", "sr", "sr.comp"}


def test_python2_file_found_in_a_directory_is_noted_and_its_imports_count(
    tmp_path: Path,
) -> None:
    # BVLC/caffe examples/pycaffe: layers/pascal_multilabel_datalayers.py is Python 2
    case = copy_case("py2-module-in-directory", tmp_path)
    result = run([case], case)
    (problem,) = result.problems
    assert problem.path.endswith("pascal_multilabel_datalayers.py")
    assert not problem.entry  # found by walking the folder: never stops the command
    notes = [f for f in result.findings if "Python 2 file" in f.message]
    assert [(n.path.rsplit("/", 1)[-1], n.line) for n in notes] == [
        ("pascal_multilabel_datalayers.py", problem.line)
    ]
    assert "print statement" in notes[0].message
    assert {"skimage", "PIL", "scipy", "numpy"} <= required(result)
    assert record(result, "skimage").sites == ("layers/pascal_multilabel_datalayers.py:6",)


def test_named_python2_script_still_stops_the_command(tmp_path: Path) -> None:
    case = copy_case("py2-module-in-directory", tmp_path)
    result = run([case / "layers/pascal_multilabel_datalayers.py"], case)
    (problem,) = result.problems
    assert problem.entry
    assert any("Python 2 file" in f.message for f in result.findings)


def test_handler_calling_a_local_installer_makes_the_import_required(tmp_path: Path) -> None:
    # Bashar-121/My_Portfolio setup.py: except ImportError: install("google-generativeai")
    case = copy_case("handler-calls-installer", tmp_path)
    result = run([case / "setup.py"], case)
    generativeai = record(result, "google.generativeai")
    assert not generativeai.optional
    assert generativeai.distribution == "google-generativeai"
    assert "google-generativeai" in " ".join(result.spec.pip)


def test_hydra_targets_in_the_loaded_configs_are_import_sites(tmp_path: Path) -> None:
    # ashleve/lightning-hydra-template: src/train.py, configs/**.yaml
    case = copy_case("hydra-targets", tmp_path)
    result = run([case / "src/train.py"], case)
    # imported only by modules that configs/{model,data}/mnist.yaml name
    assert {"torchmetrics", "torchvision"} <= required(result)
    assert "configs/model/mnist.yaml:1" in record(result, "src").sites
    assert "configs/model/mnist.yaml:4" in record(result, "torch").sites  # torch.optim.Adam
    assert "configs/logger/wandb.yaml:4" in record(result, "lightning").sites
    (section,) = result.spec.code
    assert "src/models/mnist_module.py" in section.include
    assert "configs/model/mnist.yaml" in section.include  # the code reads it at run time


def test_hydra_target_of_a_config_the_defaults_do_not_select_is_optional(
    tmp_path: Path,
) -> None:
    files = {
        "train.py": '@hydra.main(config_path="conf", config_name="main")\ndef f(): pass\n',
        "conf/main.yaml": "defaults:\n  - logger: null\n  - model: small\n",
        "conf/model/small.yaml": "_target_: pkgtool_model_lib.Small\n",
        "conf/logger/wandb.yaml": "_target_: pkgtool_logger_lib.WandbLogger\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(("import hydra\n" if rel == "train.py" else "") + text)
    result = run([tmp_path / "train.py"], tmp_path)
    assert not record(result, "pkgtool_model_lib").optional
    assert record(result, "pkgtool_logger_lib").optional


def _no_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No --python, no $VIRTUAL_ENV or $CONDA_PREFIX, no python3 on PATH."""
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_backends_reached_only_in_branches_are_optional_when_not_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # huggingface/pytorch-image-models train.py -> timm.data.readers.reader_factory
    case = copy_case("multi-backend-train", tmp_path)
    venv = tmp_path / "user-env"  # the user's environment: none of the backends
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    _no_environment(monkeypatch, tmp_path)
    result = run([case / "train.py"], case, python=venv / "bin" / "python")
    deferred = {"tensorflow", "tensorflow_datasets", "datasets"}
    for module in deferred:
        assert record(result, module).optional, module
    assert {"torch", "torchvision", "yaml", "PIL"} <= required(result)
    notes = {
        f.module: f for f in result.findings if "not installed in the environment" in f.message
    }
    assert deferred <= set(notes)
    assert notes["tensorflow"].path == "timm/data/readers/reader_tfds.py"
    assert "--include-optional" in notes["tensorflow"].hint
    assert not any(d.startswith("tensorflow") for d in result.spec.pip)


def test_without_an_environment_deferred_backends_stay_required_and_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = copy_case("multi-backend-train", tmp_path)
    _no_environment(monkeypatch, tmp_path)
    result = run([case / "train.py"], case)
    assert result.spec.analysis is not None
    assert (result.spec.analysis.environment or "").startswith("none")
    assert {"tensorflow", "tensorflow_datasets", "datasets", "torch"} <= required(result)
    notes = [f for f in result.findings if "no environment known" in f.message]
    assert {"tensorflow", "tensorflow_datasets", "datasets"} == {f.module for f in notes}


def test_uncalled_function_of_a_script_with_a_main_block_is_conditional(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "main.py").write_text(
        "def main():\n    import pkgtool_called_lib\n"
        "def unused():\n    import pkgtool_unused_lib\n"
        'if __name__ == "__main__":\n    main()\n'
    )
    (tmp_path / "samples.py").write_text("def sample():\n    import pkgtool_sample_lib\n")
    venv = tmp_path / "user-env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    _no_environment(monkeypatch, tmp_path)
    result = run(
        [tmp_path / "main.py", tmp_path / "samples.py"], tmp_path, python=venv / "bin/python"
    )
    assert record(result, "pkgtool_unused_lib").optional
    assert not record(result, "pkgtool_called_lib").optional
    assert not record(result, "pkgtool_sample_lib").optional  # no __main__ block: a module


def test_subproject_beside_a_notebook_is_a_root_whose_requirements_count(
    tmp_path: Path,
) -> None:
    # the layout of issue 23 (a notebook beside its own library, no project marker above):
    # written for this test, no public repository of this shape was found in time
    notebook = {
        "cells": [{"cell_type": "code", "source": ["from acme.tools.io import load\n"]}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (tmp_path / "analysis.ipynb").write_text(json.dumps(notebook))
    lib = tmp_path / "acme-tools"
    (lib / "src/acme/tools").mkdir(parents=True)
    (lib / "src/acme/tools/__init__.py").write_text("")
    (lib / "src/acme/tools/io.py").write_text("import json\n")
    (lib / "setup.cfg").write_text(
        "[metadata]\nname = acme-tools\n\n[options]\npackage_dir =\n    =src\n"
        "install_requires =\n    pkgtool-declared-a>=1.2\n"
        "    pkgtool-declared-b; python_version<'3'\n"
    )
    result = run([tmp_path / "analysis.ipynb"], tmp_path)
    assert record(result, "acme").installer == "local"
    assert not any("shared namespace" in f.message for f in result.findings)
    assert "pkgtool-declared-a>=1.2" in result.spec.pip
    assert not any("declared-b" in p for p in result.spec.pip)  # its marker is false
    assert "pip" in result.spec.dependencies
    (note,) = [f for f in result.findings if "declared requirements count" in f.message]
    assert note.module == "acme-tools"


def test_projects_in_home_are_not_taken_for_subprojects_of_a_script_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "job.py").write_text("import otherpkg\n")
    (tmp_path / "other/otherpkg").mkdir(parents=True)
    (tmp_path / "other/otherpkg/__init__.py").write_text("")
    (tmp_path / "other/setup.py").write_text("from setuptools import setup\nsetup()\n")
    result = run([tmp_path / "job.py"], tmp_path)
    assert record(result, "otherpkg").installer != "local"


def test_environment_answer_is_stored_and_asked_again_when_it_changes(tmp_path: Path) -> None:
    # issue 23 item 6: the interpreter is not started again while nothing it depends on
    # changed; a new .pth file (an install) makes it answer again
    from pkgtool.analyzer._environment import find_environment

    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    log = tmp_path / "runs.log"
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\necho run >> "{log}"\nexec "{venv}/bin/python" "$@"\n')
    wrapper.chmod(0o755)
    cache = tmp_path / "cache"
    first = find_environment(wrapper, {}, cache)
    second = find_environment(wrapper, {}, cache)
    assert second == first
    assert log.read_text().count("run") == 1
    site = next(Path(p) for p in first.env.path if p.endswith("site-packages"))  # type: ignore[union-attr]
    (site / "extra.pth").write_text(str(tmp_path) + "\n")
    third = find_environment(wrapper, {}, cache)
    assert log.read_text().count("run") == 2
    assert third.env is not None and str(tmp_path) in third.env.path
