"""Pins, conda-or-pip choice and --freeze, through the real analyzer and installed metadata."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from pkgtool.analyzer import AnalyzeOptions, analyze
from pkgtool.analyzer._requirements import conda_matchspec, pip_requirement
from pkgtool.errors import UsageError

NUMPY = metadata.version("numpy")


def _script(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.py"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("pin", "pip", "conda"),
    [
        ("exact", "numpy==1.26.4", "numpy=1.26.4"),
        ("compatible", "numpy~=1.26.4", "numpy>=1.26.4,<1.27"),
        ("none", "numpy", "numpy"),
    ],
)
def test_pin_modes(pin: str, pip: str, conda: str) -> None:
    assert pip_requirement("numpy", "1.26.4", pin) == pip
    assert conda_matchspec("numpy", "1.26.4", pin) == conda


def test_compatible_pin_of_a_two_part_version() -> None:
    assert pip_requirement("six", "1.16", "compatible") == "six~=1.16"
    assert conda_matchspec("six", "1.16", "compatible") == "six>=1.16,<2"
    assert pip_requirement("x", "7", "compatible") == "x>=7"


def test_installed_version_pinned_per_mode(tmp_path: Path) -> None:
    script = _script(tmp_path, "import numpy\n")
    for pin, expected in (("exact", f"numpy=={NUMPY}"), ("none", "numpy")):
        spec = analyze([script], AnalyzeOptions(spec_dir=tmp_path, pin=pin)).spec
        assert spec.pip == (expected,)
    with pytest.raises(UsageError, match="pin mode"):
        analyze([script], AnalyzeOptions(spec_dir=tmp_path, pin="loose"))


def test_conda_on_request(tmp_path: Path) -> None:
    script = _script(tmp_path, "import numpy\nimport yaml\n")
    options = AnalyzeOptions(spec_dir=tmp_path, conda=frozenset({"numpy", "cudatoolkit"}))
    result = analyze([script], options)
    deps = result.spec.dependencies
    assert f"numpy={NUMPY}" in deps
    assert "cudatoolkit" in deps  # asked for, imported by nothing: an extra conda package
    assert [p.split("==")[0] for p in result.spec.pip] == ["PyYAML"]
    by_module = {r.module: r for r in result.imports}
    assert by_module["numpy"].installer == "conda"
    assert by_module["yaml"].installer == "pip"


def test_conda_by_import_name_uses_the_conda_package_name(tmp_path: Path) -> None:
    script = _script(tmp_path, "import yaml\n")
    spec = analyze([script], AnalyzeOptions(spec_dir=tmp_path, conda=frozenset({"yaml"}))).spec
    assert spec.pip == ()
    assert any(d.startswith("pyyaml=") for d in spec.dependencies)


def test_freeze_adds_installed_transitive_dependencies(tmp_path: Path) -> None:
    script = _script(tmp_path, "import rich\n")
    plain = analyze([script], AnalyzeOptions(spec_dir=tmp_path)).spec
    frozen = analyze([script], AnalyzeOptions(spec_dir=tmp_path, freeze=True)).spec
    assert plain.pip == (f"rich=={metadata.version('rich')}",)
    expected = {
        f"{name}=={metadata.version(name)}"
        for name in ("rich", "markdown-it-py", "mdurl", "Pygments")
    }
    assert expected <= set(frozen.pip)


def test_versions_from_another_interpreter(tmp_path: Path) -> None:
    import platform
    import subprocess
    import sys
    import sysconfig

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)})
    info = Path(purelib) / "fancylib_pkgtool-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fancylib-pkgtool\nVersion: 1.2.3\n"
    )
    (info / "top_level.txt").write_text("fancylib\n")
    (info / "RECORD").write_text("fancylib/__init__.py,,\n")
    (Path(purelib) / "fancylib").mkdir()
    (Path(purelib) / "fancylib" / "__init__.py").write_text("")
    script = _script(tmp_path, "import fancylib\n")
    here = analyze([script], AnalyzeOptions(spec_dir=tmp_path)).spec
    assert here.pip == ("fancylib",)  # unknown here: the import name is the guess
    there = analyze([script], AnalyzeOptions(spec_dir=tmp_path, python=venv / "bin" / "python"))
    assert there.spec.pip == ("fancylib-pkgtool==1.2.3",)
    assert there.spec.analysis is not None
    assert there.spec.analysis.python == platform.python_version()


def test_a_module_that_needs_an_extra_adds_its_distribution(tmp_path: Path) -> None:
    script = _script(tmp_path, "import dask\nfrom dask.distributed import Client\n")
    result = analyze([script], AnalyzeOptions(spec_dir=tmp_path, pin="none"))
    names = {p.split("==")[0].lower() for p in result.spec.pip}
    assert {"dask", "distributed"} <= names
    record = next(r for r in result.imports if r.distribution == "distributed")
    assert record.module == "dask.distributed"  # what the pre-flight check imports
    assert record.sites == ("job.py:2",)
