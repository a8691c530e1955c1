"""Distribution lookup against real ``.dist-info`` directories and a real ``conda-meta``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from pkgtool.analyzer._resolve import (
    DistributionIndex,
    Installed,
    Resolver,
    builtin_mapping,
    is_valid_name,
)


def make_dist(
    site: Path,
    name: str,
    version: str,
    *,
    top_level: str | None = None,
    files: tuple[str, ...] = (),
    installer: str | None = "pip",
) -> None:
    """Write an installed distribution the way installers do (core metadata, RECORD)."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if top_level is not None:
        (info / "top_level.txt").write_text(top_level)
    if installer is not None:
        (info / "INSTALLER").write_text(f"{installer}\n")
    record = [f"{f},," for f in files] + [f"{info.name}/METADATA,,", f"{info.name}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(record) + "\n")


@pytest.fixture
def prefix(tmp_path: Path) -> Path:
    """A conda-like prefix with a site-packages holding several distributions."""
    site = tmp_path / "lib/python3.11/site-packages"
    make_dist(site, "Foo_Bar", "1.0", top_level="foobar\n")
    make_dist(site, "inferred", "2.0", files=("infer_pkg/__init__.py", "single.py", "../../bin/x"))
    make_dist(site, "google-api-core", "2.1", files=("google/api_core/__init__.py",))
    make_dist(site, "protobuf", "5.0", files=("google/protobuf/__init__.py",))
    make_dist(site, "condaish", "3.0", top_level="condaish\n", installer="conda")
    make_dist(site, "yaml", "0.1", top_level="yaml\n")
    make_dist(site, "PyYAML-fork", "0.2", top_level="yaml\n")
    make_dist(site, "pytorch-wheel", "2.1.0", top_level="torch\n", installer="conda")
    meta = tmp_path / "conda-meta"
    meta.mkdir()
    (meta / "pytorch-2.1.0-py311_0.json").write_text(
        json.dumps(
            {
                "name": "pytorch",
                "version": "2.1.0",
                "files": ["lib/python3.11/site-packages/pytorch_wheel-2.1.0.dist-info/METADATA"],
            }
        )
    )
    (meta / "broken.json").write_text("{not json")
    return tmp_path


def index_for(prefix: Path) -> DistributionIndex:
    return DistributionIndex(path=[str(prefix / "lib/python3.11/site-packages")], prefix=prefix)


def test_top_level_names(prefix: Path) -> None:
    top = index_for(prefix).top_level()
    assert top["foobar"] == ["Foo_Bar"]
    assert top["infer_pkg"] == ["inferred"]
    assert top["single"] == ["inferred"]
    assert top["google"] == ["google-api-core", "protobuf"]
    assert top["yaml"] == ["PyYAML-fork", "yaml"]
    assert ".." not in top


def test_resolution_order(prefix: Path) -> None:
    resolver = Resolver(index_for(prefix), {"foobar.special": "special-dist"})
    foobar = resolver.resolve("foobar.x")
    assert (foobar.module, foobar.distribution) == ("foobar", "Foo_Bar")
    assert foobar.installed == Installed("Foo_Bar", "1.0", "pip")
    special = resolver.resolve("foobar.special.y")
    assert (special.module, special.distribution, special.installed) == (
        "foobar.special",
        "special-dist",
        None,
    )
    # Several providers: the one named like the import wins...
    assert resolver.resolve("yaml").distribution == "yaml"
    # ... else the one whose files hold the imported submodule ...
    proto = resolver.resolve("google.protobuf.message")
    assert (proto.module, proto.distribution) == ("google.protobuf", "protobuf")
    # ... and inside a namespace package (PEP 420) no provider claims what it lacks.
    assert resolver.resolve("google.other").distribution not in ("google-api-core", "protobuf")
    # Not installed: the table, then the import name itself.
    assert resolver.resolve("sklearn.svm").distribution == "scikit-learn"
    guess = resolver.resolve("pkgtool_nowhere.sub")
    assert (guess.module, guess.distribution, guess.installed) == (
        "pkgtool_nowhere",
        "pkgtool_nowhere",
        None,
    )
    assert resolver.resolve("_private").distribution is None


def test_case_insensitive_lookup(prefix: Path) -> None:
    assert Resolver(index_for(prefix), {}).resolve("FooBar").distribution == "Foo_Bar"


def test_conda_installer(prefix: Path) -> None:
    index = index_for(prefix)
    assert index.installed("condaish") == Installed("condaish", "3.0", "conda", "condaish", "3.0")
    # conda-meta owns the .dist-info: the conda package name and version are used.
    assert index.installed("pytorch_wheel") == Installed(
        "pytorch-wheel", "2.1.0", "conda", "pytorch", "2.1.0"
    )
    assert index.installed("foo-bar") == Installed("Foo_Bar", "1.0", "pip")
    assert index.installed("absent") is None


def test_builtin_mapping_table() -> None:
    table = builtin_mapping()
    assert len(table) >= 150
    assert table["yaml"] == "PyYAML"
    assert table["google.protobuf"] == "protobuf"
    assert all(is_valid_name(v) for v in table.values())
    assert all(all(p.isidentifier() for p in k.split(".")) for k in table)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("PyYAML", True),
        ("a", True),
        ("ruamel.yaml", True),
        ("_x", False),
        ("x-", False),
        ("ñ", False),
        ("", False),
    ],
)
def test_is_valid_name(name: str, valid: bool) -> None:
    assert is_valid_name(name) is valid


def test_running_interpreter_index_knows_numpy() -> None:
    index = DistributionIndex()
    assert index.top_level()["numpy"] == ["numpy"]
    installed = index.installed("numpy")
    assert installed is not None and installed.installer in ("pip", "conda")
    assert textwrap.dedent(installed.version) == installed.version


def test_namespace_provider_does_not_claim_the_whole_namespace(tmp_path: Path) -> None:
    """protobuf's top_level.txt says ``google``, but google/ is a PEP 420 namespace:
    google.cloud.storage is not protobuf's, and mpl_toolkits.basemap is not matplotlib's."""
    site = tmp_path / "site-packages"
    make_dist(site, "protobuf", "5.0", top_level="google\n",
              files=("google/protobuf/__init__.py", "google/protobuf/message.py"))  # fmt: skip
    make_dist(site, "matplotlib", "3.9", top_level="matplotlib\nmpl_toolkits\n",
              files=("matplotlib/__init__.py", "mpl_toolkits/mplot3d/__init__.py"))  # fmt: skip
    resolver = Resolver(DistributionIndex(path=[str(site)], prefix=tmp_path), {})
    answers = {
        dotted: (r.module, r.distribution)
        for dotted in (
            "google.protobuf.message",
            "google.cloud.storage",
            "mpl_toolkits.mplot3d",
            "mpl_toolkits.basemap",
        )
        for r in [resolver.resolve(dotted)]
    }
    assert answers == {
        "google.protobuf.message": ("google.protobuf", "protobuf"),
        "google.cloud.storage": ("google.cloud.storage", "google-cloud-storage"),
        "mpl_toolkits.mplot3d": ("mpl_toolkits.mplot3d", "matplotlib"),
        "mpl_toolkits.basemap": ("mpl_toolkits.basemap", "basemap"),
    }
