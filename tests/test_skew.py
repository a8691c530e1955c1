"""pkgtool.skew on small real archives (a tar.gz holding only a manifest) against this
interpreter: the python minor version, conda-forge's package names, what is compared."""

from __future__ import annotations

import io
import json
import sys
import tarfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from pkgtool.errors import InputError
from pkgtool.skew import check_client


def _archive(tmp_path: Path, python: str, conda: list[Any], pip: list[Any]) -> Path:
    manifest = {"format": 2, "python": python, "lock": {"conda": conda, "pip": pip}}
    data = json.dumps(manifest).encode()
    path = tmp_path / "env.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(".pkgtool/manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def _entry(name: str, dist_version: str) -> dict[str, str]:
    return {"name": name, "version": dist_version}


def test_python_minor_is_compared(tmp_path: Path) -> None:
    ours = f"{sys.version_info.major}.{sys.version_info.minor}"
    other = f"{sys.version_info.major}.{sys.version_info.minor + 1}.0"
    report = check_client(_archive(tmp_path, other, [], []), Path(sys.executable))
    (pair,) = report.pairs
    assert (pair.name, pair.archive, pair.client, pair.agree) == ("python", other[:-2], ours, False)
    same = check_client(_archive(tmp_path, f"{ours}.99", [], []), Path(sys.executable))
    assert same.mismatches == ()


def test_conda_names_and_only_shared_distributions(tmp_path: Path) -> None:
    """conda-forge's dask-core is dask; pip's entry wins over conda's (cloudpickle); a
    distribution that need not agree (numpy) is not compared."""
    dask = version("dask")
    archive = _archive(
        tmp_path, sys.version.split()[0],
        [_entry("dask-core", dask), _entry("cloudpickle", "0.0.1"), _entry("numpy", "0.1")],
        [_entry("Cloudpickle", "0.0.2")],
    )  # fmt: skip
    report = check_client(archive, Path(sys.executable))
    rows = {p.name: (p.archive, p.agree) for p in report.pairs}
    assert rows == {"python": (rows["python"][0], True), "dask": (dask, True),
                    "cloudpickle": ("0.0.2", False)}  # fmt: skip


def test_no_manifest_and_bad_python(tmp_path: Path) -> None:
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(InputError, match="has no pkgtool manifest"):
        check_client(empty, Path(sys.executable))
    with pytest.raises(InputError, match="cannot run the client python"):
        check_client(_archive(tmp_path, "3.11.7", [], []), tmp_path / "no-python")
