"""The local channel: python from the host interpreter, packages from real wheels.

Real rattler solves and installs from the session's ``local_channel``; the installed
interpreter and console scripts run in subprocesses with a clean environment; conda-pack
packs the result.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from pkgtool.builder import _rattler, _wheelpkg, channel
from pkgtool.builder._proc import BuildLog
from pkgtool.errors import InputError, ResolutionError

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="builds Linux packages"),
]

SPECS = ["python=3.11", "numpy", "pyyaml", "six", "pip"]


class Installed(NamedTuple):
    prefix: Path
    cache: Path
    records: list[dict[str, Any]]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}


def run(*cmd: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd],
        capture_output=True,
        text=True,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def installed(local_channel: Any, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("installed")
    prefix, cache = root / "env", root / "cache"
    log = BuildLog()
    solved = _rattler.solve([local_channel.url], SPECS, cache, log)
    records = _rattler.install(
        [local_channel.url], [(r["name"], r["url"]) for r in solved], prefix, cache, log
    )
    return Installed(prefix, cache, records)


def test_channel_is_indexed(local_channel: Any) -> None:
    linux = json.loads((local_channel.path / "linux-64" / "repodata.json").read_text())
    noarch = json.loads((local_channel.path / "noarch" / "repodata.json").read_text())
    packages = {**linux.get("packages", {}), **linux.get("packages.conda", {})}
    by_name = {rec["name"]: rec for rec in packages.values()}
    assert by_name["python"]["version"] == local_channel.python_version
    assert by_name["python"]["build"].endswith("_0_cpython")
    assert any(d.startswith("python >=3.11,<3.12") for d in by_name["numpy"]["depends"])
    assert any(d.startswith("__glibc >=") for d in by_name["numpy"]["depends"])
    noarch_names = {rec["name"] for rec in noarch.get("packages.conda", {}).values()}
    assert {"pip", "six"} <= noarch_names
    assert local_channel.url == local_channel.path.resolve().as_uri()


def test_installed_python_imports_everything(installed: Installed) -> None:
    code = (
        "import numpy, yaml, six, ssl, sqlite3, ctypes, os, sysconfig, importlib.metadata as m;"
        "print(numpy.__version__, sysconfig.get_config_var('prefix'), os.__file__,"
        " m.distribution('six').read_text('INSTALLER').strip())"
    )
    proc = run(installed.prefix / "bin" / "python", "-c", code)
    assert proc.returncode == 0, proc.stderr
    numpy_version, sys_prefix, os_file, installer = proc.stdout.split()
    versions = {r["name"]: r["version"] for r in installed.records}
    assert numpy_version == versions["numpy"]
    assert sys_prefix == str(installed.prefix)  # _sysconfigdata's prefix was rewritten
    assert os_file.startswith(str(installed.prefix))
    assert installer == "conda"
    stdlib = installed.prefix / "lib" / "python3.11"
    assert (stdlib / "__pycache__" / "os.cpython-311.pyc").is_file()
    assert not (stdlib / "idlelib").exists()
    assert not (stdlib / "test").exists()


def test_elf_files_find_libpython_through_origin(installed: Installed) -> None:
    patchelf = channel.find_patchelf()
    lib = installed.prefix / "lib"
    expected = {
        installed.prefix / "bin" / "python3.11": "$ORIGIN/../lib",
        lib / "libpython3.11.so.1.0": "$ORIGIN",
        next((lib / "python3.11" / "lib-dynload").glob("_ssl*.so")): "$ORIGIN/../..",
    }
    for path, rpath in expected.items():
        proc = run(patchelf, "--print-rpath", path)
        assert proc.stdout.strip() == rpath, path


def test_noarch_entry_point_runs(installed: Installed) -> None:
    proc = run(installed.prefix / "bin" / "pip", "--version")
    assert proc.returncode == 0, proc.stderr
    assert str(installed.prefix / "lib" / "python3.11" / "site-packages") in proc.stdout


def test_binary_entry_point_runs(installed: Installed) -> None:
    proc = run(installed.prefix / "bin" / "numpy-config", "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() in {r["version"] for r in installed.records}


def test_conda_pack_accepts_the_prefix(installed: Installed, tmp_path: Path) -> None:
    import conda_pack

    out = tmp_path / "env.tar.gz"
    conda_pack.pack(
        prefix=str(installed.prefix), output=str(out), format="tar.gz", compress_level=1
    )
    assert out.stat().st_size > 10_000_000


def test_python_package_is_reproducible(
    local_channel: Any, host_python: Path, tmp_path: Path
) -> None:
    info = channel.inspect_interpreter(host_python)
    again = channel.python_package(info, tmp_path)
    (first,) = (local_channel.path / "linux-64").glob("python-*.conda")
    assert again.name == first.name
    assert again.read_bytes() == first.read_bytes()


def test_wheel_package_is_reproducible(local_channel: Any, tmp_path: Path) -> None:
    wheelhouse = Path(os.environ.get("PKG_TEST_WHEELHOUSE") or tmp_path / "wh")
    (six,) = [w for w in channel.download_wheels(["six"], wheelhouse, "3.11") if "six" in w.name]
    first = channel.wheel_package(six, tmp_path / "a", "3.11")
    second = channel.wheel_package(six, tmp_path / "b", "3.11")
    assert first.parent == tmp_path / "a" / "noarch"
    assert first.read_bytes() == second.read_bytes()


def test_binary_wheel_for_another_python_is_refused(tmp_path: Path) -> None:
    wheelhouse = Path(os.environ.get("PKG_TEST_WHEELHOUSE") or tmp_path / "wh")
    wheels = channel.download_wheels(["pyyaml"], wheelhouse, "3.11")
    with pytest.raises(InputError, match=r"not for CPython 3\.12"):
        channel.wheel_package(wheels[0], tmp_path / "ch", "3.12")


def test_download_names_the_missing_requirement(tmp_path: Path) -> None:
    with pytest.raises(ResolutionError, match=r"six==0\.0\.1") as info:
        channel.download_wheels(["six==0.0.1"], tmp_path, "3.11")
    assert info.value.exit_code == 4


def test_venv_python_resolves_to_its_base(host_python: Path, tmp_path: Path) -> None:
    subprocess.run(
        [str(host_python), "-m", "venv", "--without-pip", str(tmp_path / "venv")],
        check=True,
        env=clean_env(),
    )
    info = channel.inspect_interpreter(tmp_path / "venv" / "bin" / "python")
    assert info.executable == host_python
    assert info.tag == "cp311"
    assert info.shared


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="no system python")
def test_distribution_python_is_refused() -> None:
    with pytest.raises(channel.InterpreterError, match="distribution-managed") as info:
        channel.inspect_interpreter(Path("/usr/bin/python3"))
    assert info.value.exit_code == 3
    assert info.value.hint and "--local-python" in info.value.hint


def test_non_python_files_are_refused(tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("not a program\n")
    script = tmp_path / "fake-python"
    script.write_text("#!/bin/sh\necho Python 3.11.7\n")
    script.chmod(0o755)
    with pytest.raises(channel.InterpreterError, match="not an executable file"):
        channel.inspect_interpreter(data)
    with pytest.raises(channel.InterpreterError, match="not a working Python interpreter"):
        channel.inspect_interpreter(script)
    true = shutil.which("true")
    if true:
        with pytest.raises(channel.InterpreterError, match="not a working Python"):
            channel.inspect_interpreter(Path(true))


@pytest.mark.parametrize(
    ("specifier", "expected"),
    [
        (">=2.7,!=3.0.*,!=3.1.*", "x !=3.0.*,!=3.1.*,>=2.7"),
        ("~=1.4.2", "x ~=1.4.2"),
        ("==1.2.*", "x ==1.2.*"),
        ("", None),
        ("===1.0", None),
        ("==1.0+local", None),
    ],
)
def test_pep440_specifiers_to_matchspecs(specifier: str, expected: str | None) -> None:
    assert _wheelpkg._conda_spec("x", specifier) == expected


def test_requires_dist_markers_and_extras() -> None:
    requires = [
        "numpy>=1.20",
        'tomli>=1.1; python_version < "3.11"',
        'colorama; sys_platform == "win32"',
        'pytest; extra == "test"',
        'typing-extensions>=4; python_version >= "3.8"',
        "Foo.Bar_baz",
    ]
    assert _wheelpkg._requires(requires, "3.11") == [
        "foo-bar-baz",
        "numpy >=1.20",
        "typing-extensions >=4",
    ]


def test_manylinux_tags_give_the_glibc_floor() -> None:
    tags = {"manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64"}
    assert _wheelpkg._binary_platform(Path("x.whl"), tags) == ("linux-64", "2.17")
    with pytest.raises(InputError):
        _wheelpkg._binary_platform(Path("x.whl"), {"musllinux_1_1_x86_64"})
