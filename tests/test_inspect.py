"""``pkg inspect``: archives (read as one stream, never unpacked), locks and specs."""

from __future__ import annotations

import importlib
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest

from pkgtool.builder.lock import CondaPackage, Lock, PipDistribution
from pkgtool.errors import EXIT_INPUT

Pkg = Callable[..., CompletedProcess[str]]
PLAIN = {"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"}

# A small archive in conda-pack's layout, as `pkg create` writes it: files at the root,
# conda-meta/<name>-<version>-<build>.json with the package's `files`, a pip distribution
# with its RECORD (PEP 376), bytecode beside the sources, the manifest, bin/conda-unpack.
SITE = "lib/python3.11/site-packages"
CONDA = {
    "python": ("3.11.7", {"bin/python3.11": 9000, "lib/libpython3.11.so": 30000,
                          "lib/python3.11/os.py": 500}),
    "numpy": ("2.1.3", {f"{SITE}/numpy/__init__.py": 700, f"{SITE}/numpy/core.so": 15000,
                        f"{SITE}/numpy-2.1.3.dist-info/RECORD": 100}),
}  # fmt: skip
PIP = {"PyYAML": ("6.0.2", "pyyaml-6.0.2.dist-info", {f"{SITE}/yaml/__init__.py": 3000})}
PYC = {
    "lib/python3.11/__pycache__/os.cpython-311.pyc": 800,  # python's
    f"{SITE}/yaml/__pycache__/__init__.cpython-311.pyc": 1200,  # PyYAML's
}
MANIFEST = {
    "format": 1,
    "pkgtool_version": "0.1.0",
    "platform": "linux-64",
    "python": "3.11.7",
    "glibc": "2.17",
    "verified_imports": ["numpy", "yaml"],
    "code_files": ["helpers/__init__.py"],
    "spec": {"format": 1, "conda": {"channels": ["conda-forge"], "dependencies": ["python"]}},
    "lock": {"format": 1, "platform": "linux-64", "channels": ["conda-forge"]},
}


def _members() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for name, (version, owned) in CONDA.items():
        for path, size in owned.items():
            files[path] = b"x" * size
        meta = {"name": name, "version": version, "build": "0", "files": sorted(owned)}
        files[f"conda-meta/{name}-{version}-0.json"] = json.dumps(meta).encode()
    for _name, (_version, dist_info, owned) in PIP.items():
        record_path = f"{SITE}/{dist_info}/RECORD"
        lines = [f"{p[len(SITE) + 1 :]},sha256=x,{s}" for p, s in owned.items()]
        lines += [f"{dist_info}/RECORD,,", "yaml/__pycache__/__init__.cpython-311.pyc,,"]
        for path, size in owned.items():
            files[path] = b"y" * size
        files[record_path] = ("\n".join(lines) + "\n").encode()
    for path, size in PYC.items():
        files[path] = b"p" * size
    files[f"{SITE}/helpers/__init__.py"] = b"# bundled code\n"
    files["bin/conda-unpack"] = b"#!/bin/sh\n"
    files[".pkgtool/manifest.json"] = json.dumps(MANIFEST, indent=2).encode()
    return files


def _tar_bytes() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, data in _members().items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("bin/python")
        link.type, link.linkname = tarfile.SYMTYPE, "python3.11"
        tar.addfile(link)
    return buffer.getvalue()


def _zstd_compress(data: bytes) -> bytes:
    for module in ("zstandard", "compression.zstd", "backports.zstd"):
        try:
            zstd: Any = importlib.import_module(module)
        except ImportError:
            continue
        if module == "zstandard":
            return zstd.ZstdCompressor().compress(data)  # type: ignore[no-any-return]
        return zstd.compress(data)  # type: ignore[no-any-return]
    pytest.skip("no zstd module to write a .tar.zst with")


@pytest.fixture(params=["env.tar.gz", "env.tar.zst"])
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    import gzip

    name = str(request.param)
    data = _tar_bytes()
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else _zstd_compress(data))
    return path


def _sizes() -> dict[str, int]:
    expected = {name: sum(owned.values()) for name, (_, owned) in CONDA.items()}
    expected["python"] += PYC["lib/python3.11/__pycache__/os.cpython-311.pyc"]
    members = _members()
    expected["numpy"] += 0  # its RECORD belongs to the conda package, not to pip
    expected["pyyaml"] = (
        sum(PIP["PyYAML"][2].values())
        + len(members[f"{SITE}/pyyaml-6.0.2.dist-info/RECORD"])
        + PYC[f"{SITE}/yaml/__pycache__/__init__.cpython-311.pyc"]
    )
    conda_meta = sum(len(v) for k, v in members.items() if k.startswith("conda-meta/"))
    expected["(other)"] = (
        conda_meta
        + len(members[f"{SITE}/helpers/__init__.py"])
        + len(members["bin/conda-unpack"])
        + len(members[".pkgtool/manifest.json"])
    )
    return expected


def test_archive_json(pkg: Pkg, archive: Path) -> None:
    proc = pkg("inspect", "--json", archive.name, cwd=archive.parent)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["format"] == 1 and data["kind"] == "archive"
    for key in ("platform", "python", "glibc", "pkgtool_version"):
        assert data[key] == MANIFEST[key]
    assert data["verified_imports"] == ["numpy", "yaml"]
    assert data["code_files"] == ["helpers/__init__.py"]
    assert data["compression"] == ("gzip" if archive.name.endswith(".gz") else "zstd")
    assert data["archive_size"] == archive.stat().st_size
    sizes = {p["name"]: p["size"] for p in data["packages"]}
    assert sizes == _sizes()
    assert [p["size"] for p in data["packages"]] == sorted(sizes.values(), reverse=True)
    assert sum(sizes.values()) == data["unpacked_size"]
    assert data["files"] == len(_members())
    installers = {p["name"]: p["installer"] for p in data["packages"]}
    assert installers["numpy"] == "conda" and installers["pyyaml"] == "pip"
    directories = {d["path"]: d["size"] for d in data["directories"]}
    assert directories["lib/"] == max(directories.values())
    assert f"{SITE}/numpy/" in directories
    assert proc.stderr == ""


def test_archive_human_view_at_80_columns_without_colour(pkg: Pkg, archive: Path) -> None:
    proc = pkg("inspect", archive, env=PLAIN)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "\x1b[" not in proc.stdout
    assert max(len(line) for line in lines) <= 80, proc.stdout
    for fact in ("linux-64", "3.11.7", "2.17", "numpy, yaml", "helpers/__init__.py"):
        assert fact in proc.stdout, fact
    table = lines[lines.index(next(line for line in lines if line.startswith("package "))) :]
    rows = [line.split()[0] for line in table[1 : table.index("")]]
    assert rows[:4] == ["python", "numpy", "pyyaml", "(other)"], proc.stdout
    python_row = table[1]
    assert "40.3 kB" in python_row and "████" in python_row


def test_lock(pkg: Pkg, tmp_path: Path) -> None:
    lock = Lock.build(
        "linux-64",
        ["conda-forge"],
        [CondaPackage("python", "3.11.7", "h0", "linux-64",
                      "https://example.invalid/python.conda", "0" * 64)],
        [PipDistribution("PyYAML", "6.0.2", "https://example.invalid/p.whl", "p.whl",
                         "1" * 64)],
    )  # fmt: skip
    (tmp_path / "env.lock.json").write_text(lock.to_json())
    proc = pkg("inspect", "--json", "env.lock.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["kind"] == "lock" and data["platform"] == "linux-64"
    assert data["python"] == "3.11.7"
    assert [(p["name"], p["version"], p["installer"]) for p in data["packages"]] == [
        ("python", "3.11.7", "conda"),
        ("PyYAML", "6.0.2", "pip"),
    ]
    human = pkg("inspect", "env.lock.json", cwd=tmp_path, env=PLAIN)
    assert "PyYAML" in human.stdout and "6.0.2" in human.stdout


def test_spec(pkg: Pkg, tmp_path: Path) -> None:
    spec = {"conda": {"dependencies": ["python=3.11", "numpy>=2", {"pip": ["pyyaml==6.0.2"]}]}}
    (tmp_path / "deps.json").write_text(json.dumps(spec))
    data = json.loads(pkg("inspect", "--json", "deps.json", cwd=tmp_path).stdout)
    assert data["kind"] == "spec" and data["channels"] == ["conda-forge"]
    assert [(p["name"], p["version"], p["installer"]) for p in data["packages"]] == [
        ("python", "=3.11", "conda"),
        ("numpy", ">=2", "conda"),
        ("pyyaml", "==6.0.2", "pip"),
    ]
    (tmp_path / "requirements.txt").write_text("requests>=2\n")
    human = pkg("inspect", "requirements.txt", cwd=tmp_path, env=PLAIN)
    assert human.returncode == 0 and "requests" in human.stdout


def _assert_bad_input(proc: CompletedProcess[str], culprit: str) -> None:
    lines = proc.stderr.splitlines()
    assert proc.returncode == EXIT_INPUT, proc.stderr
    assert len(lines) == 2 and lines[0].startswith("error: ") and culprit in lines[0], lines
    assert lines[1].startswith("hint: ")
    assert proc.stdout == ""


def test_truncated_archive(pkg: Pkg, tmp_path: Path) -> None:
    import gzip

    data = gzip.compress(_tar_bytes())
    (tmp_path / "env.tar.gz").write_bytes(data[: len(data) // 2])
    _assert_bad_input(pkg("inspect", "env.tar.gz", cwd=tmp_path), "env.tar.gz")


def test_archive_without_manifest(pkg: Pkg, tmp_path: Path) -> None:
    with tarfile.open(tmp_path / "plain.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("bin/tool")
        tar.addfile(info, io.BytesIO(b""))
    _assert_bad_input(pkg("inspect", "plain.tar.gz", cwd=tmp_path), ".pkgtool/manifest.json")


def test_neither_archive_nor_spec(pkg: Pkg, tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "env.zip", "w") as z:
        z.writestr("bin/tool", "")
    _assert_bad_input(pkg("inspect", "env.zip", cwd=tmp_path), "zip")
    (tmp_path / "blob").write_bytes(bytes(range(256)) * 4)
    _assert_bad_input(pkg("inspect", "blob", cwd=tmp_path), "blob")
    (tmp_path / "latin1.txt").write_bytes("numpy  # \xe9t\xe9\n".encode("latin-1"))
    _assert_bad_input(pkg("inspect", "latin1.txt", cwd=tmp_path), "latin1.txt")


def test_missing_file(pkg: Pkg, tmp_path: Path) -> None:
    _assert_bad_input(pkg("inspect", "nope.tar.gz", cwd=tmp_path), "nope.tar.gz")


@pytest.mark.slow
def test_a_real_archive(pkg: Pkg, tmp_path: Path, local_channel: object) -> None:
    """An archive `pkg create` built: every byte is some package's, sizes add up."""
    url = local_channel.url  # type: ignore[attr-defined]
    spec = {
        "conda": {"dependencies": ["python=3.11", "numpy"]},
        "analysis": {"imports": [{"module": "numpy", "installer": "conda"}]},
    }
    (tmp_path / "deps.json").write_text(json.dumps(spec))
    proc = pkg(
        "create", "--channel", url, "--cache-dir", tmp_path / "cache", "deps.json", "env.tar.gz",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(pkg("inspect", "--json", "env.tar.gz", cwd=tmp_path).stdout)
    with tarfile.open(tmp_path / "env.tar.gz") as tar:
        regular = [m for m in tar.getmembers() if m.isreg()]
    assert data["files"] == len(regular)
    assert data["unpacked_size"] == sum(m.size for m in regular)
    assert sum(p["size"] for p in data["packages"]) == data["unpacked_size"]
    names = [p["name"] for p in data["packages"]]
    assert {"python", "numpy"} <= set(names), names
    sizes = [p["size"] for p in data["packages"]]
    assert sizes == sorted(sizes, reverse=True)
    other = next((p for p in data["packages"] if p["name"] == "(other)"), None)
    assert other is None or other["size"] < data["unpacked_size"] / 20
    assert data["verified_imports"] == ["numpy"]
    human = pkg("inspect", "env.tar.gz", cwd=tmp_path, env=PLAIN)
    assert max(len(line) for line in human.stdout.splitlines()) <= 80
    print(human.stdout)  # shown with -s: the screenshot in the change notes


def test_manifest_path_is_the_builders() -> None:
    # inspection repeats the path so that reading an archive does not import the builder.
    from pkgtool import inspection
    from pkgtool.builder import manifest

    assert inspection.MANIFEST_PATH == manifest.MANIFEST_PATH
