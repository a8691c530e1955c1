"""The built-in import-name table (``analyzer/data/mapping.json``) and conda-forge names."""

from __future__ import annotations

import json
import textwrap
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import pytest

from pkgtool.analyzer import AnalyzeOptions, analyze
from pkgtool.analyzer._resolve import DistributionIndex, Resolver, builtin_mapping, is_valid_name
from pkgtool.builder.localpython import conda_to_pip
from pkgtool.names import conda_name, conda_names, is_conda_only, normalize, pypi_name

SOURCES = {"wheel", "docs", "convention"}

ISSUE_EXAMPLES = {
    # dotted import as written -> (module key found, distribution)
    "google.cloud.storage.blob": ("google.cloud.storage", "google-cloud-storage"),
    "google.cloud.bigquery": ("google.cloud.bigquery", "google-cloud-bigquery"),
    "google.protobuf.message": ("google.protobuf", "protobuf"),
    "google.auth.transport.requests": ("google.auth", "google-auth"),
    "googleapiclient.discovery": ("googleapiclient", "google-api-python-client"),
    "ruamel.yaml.comments": ("ruamel.yaml", "ruamel.yaml"),
    "mpl_toolkits.mplot3d": ("mpl_toolkits.mplot3d", "matplotlib"),  # a mined portion
    "mpl_toolkits.basemap": ("mpl_toolkits.basemap", "basemap"),
    "azure.storage.blob.aio": ("azure.storage.blob", "azure-storage-blob"),
    "azure.identity": ("azure.identity", "azure-identity"),
    "PIL.Image": ("PIL", "Pillow"),
    "cv2": ("cv2", "opencv-python"),
    "sklearn.linear_model": ("sklearn", "scikit-learn"),
    "skimage.io": ("skimage", "scikit-image"),
    "yaml": ("yaml", "PyYAML"),
    "bs4": ("bs4", "beautifulsoup4"),
    "dateutil.parser": ("dateutil", "python-dateutil"),
    "dotenv": ("dotenv", "python-dotenv"),
    "jwt": ("jwt", "PyJWT"),
    "Crypto.Cipher.AES": ("Crypto", "pycryptodome"),
    "OpenSSL.crypto": ("OpenSSL", "pyOpenSSL"),
    "git": ("git", "GitPython"),
    "github": ("github", "PyGithub"),
    "telegram.ext": ("telegram", "python-telegram-bot"),
    "attr": ("attr", "attrs"),
    "Bio.Seq": ("Bio", "biopython"),
    "MySQLdb": ("MySQLdb", "mysqlclient"),
    "psycopg2.extras": ("psycopg2", "psycopg2"),
    "zmq": ("zmq", "pyzmq"),
    "jinja2": ("jinja2", "Jinja2"),
    "sqlalchemy.orm": ("sqlalchemy", "SQLAlchemy"),
    "torch.nn": ("torch", "torch"),
}


def raw_table() -> dict[str, Any]:
    text = resources.files("pkgtool.analyzer").joinpath("data/mapping.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


# ------------------------------------------------------------------ table shape


def test_table_is_versioned_and_large() -> None:
    data = raw_table()
    assert data["format"] == 2
    assert isinstance(data["version"], str) and data["version"]
    assert len(builtin_mapping()) >= 500


def test_table_keys_and_values_are_valid() -> None:
    table = builtin_mapping()
    bad_values = [v for v in table.values() if not is_valid_name(v)]
    bad_keys = [k for k in table if not all(p.isidentifier() for p in k.split("."))]
    assert bad_values == []
    assert bad_keys == []


def test_every_entry_states_its_source() -> None:
    problems = []
    for module, entry in raw_table()["mapping"].items():
        source = entry.get("source")
        if source not in SOURCES:
            problems.append(f"{module}: source {source!r}")
        elif source == "wheel" and not entry.get("checked"):
            problems.append(f"{module}: wheel-verified without the version checked")
        elif source != "wheel" and not entry.get("ref"):
            problems.append(f"{module}: {source} without a ref")
        if not all(is_valid_name(a) for a in entry.get("also", [])):
            problems.append(f"{module}: bad also {entry['also']!r}")
    assert problems == []


def test_most_entries_are_wheel_verified() -> None:
    entries = raw_table()["mapping"].values()
    verified = {e["distribution"] for e in entries if e["source"] == "wheel"}
    assert len(verified) >= 150


# ------------------------------------------------------------------ resolution


@pytest.fixture
def resolver(tmp_path: Path) -> Resolver:
    """A resolver that sees no installed distributions: only the built-in table answers."""
    empty = tmp_path / "site-packages"
    empty.mkdir()
    return Resolver(DistributionIndex(path=[str(empty)], prefix=tmp_path), {})


@pytest.mark.parametrize(("dotted", "expected"), sorted(ISSUE_EXAMPLES.items()))
def test_issue_examples_resolve_by_longest_prefix(
    resolver: Resolver, dotted: str, expected: tuple[str, str]
) -> None:
    got = resolver.resolve(dotted)
    assert (got.module, got.distribution) == expected
    assert got.installed is None


def test_unknown_name_falls_back_to_the_top_level_guess(resolver: Resolver) -> None:
    got = resolver.resolve("surely_not_a_known_pkg_4711.sub")
    assert (got.module, got.distribution) == (
        "surely_not_a_known_pkg_4711",
        "surely_not_a_known_pkg_4711",
    )


def test_analyze_uses_the_table_for_names_not_installed(tmp_path: Path) -> None:
    wanted = {"azure", "ruamel", "skimage", "Bio", "telegram"}
    installed = set(metadata.packages_distributions())
    if wanted & installed:
        pytest.skip(f"needs {sorted(wanted & installed)} not installed")
    script = tmp_path / "main.py"
    script.write_text(
        textwrap.dedent(
            """\
            from azure.storage.blob import BlobServiceClient
            import ruamel.yaml
            from skimage import io
            from Bio import SeqIO
            import telegram.ext
            """
        )
    )
    result = analyze([script], AnalyzeOptions(spec_dir=tmp_path))
    got = {r.module: r.distribution for r in result.imports}
    assert got == {
        "azure.storage.blob": "azure-storage-blob",
        "ruamel.yaml": "ruamel.yaml",
        "skimage": "scikit-image",
        "Bio": "biopython",
        "telegram": "python-telegram-bot",
    }


# ------------------------------------------------------------------ conda names


@pytest.mark.parametrize(
    ("pypi", "conda"),
    [
        ("PyYAML", "pyyaml"),
        ("torch", "pytorch"),
        ("opencv-python", "opencv"),
        ("tables", "pytables"),
        ("msgpack", "msgpack-python"),
        ("matplotlib", "matplotlib"),
        ("tensorflow", "tensorflow"),
        ("psycopg2-binary", "psycopg2"),
        ("python-dateutil", "python-dateutil"),
        ("ruamel.yaml", "ruamel.yaml"),
        ("Foo_Bar.baz", "foo-bar-baz"),
    ],
)
def test_conda_name(pypi: str, conda: str) -> None:
    assert conda_name(pypi) == conda


@pytest.mark.parametrize(
    ("conda", "pypi"),
    [
        ("pytorch", "torch"),
        ("py-opencv", "opencv-python"),
        ("opencv", "opencv-python"),
        ("matplotlib-base", "matplotlib"),
        ("pytables", "tables"),
        ("msgpack-python", "msgpack"),
        ("tensorflow-base", "tensorflow"),
        ("psycopg2", "psycopg2"),
        ("python-graphviz", "graphviz"),
        ("numpy", "numpy"),
    ],
)
def test_pypi_name(conda: str, pypi: str) -> None:
    assert pypi_name(conda) == pypi


def test_conda_names_round_trip() -> None:
    table = conda_names()
    assert table.version
    for conda, pypi in table.to_pypi.items():
        assert pypi_name(conda_name(pypi)) == pypi, (conda, pypi)
    for pypi in ("numpy", "scipy", "requests", "PyYAML"):
        assert normalize(pypi_name(conda_name(pypi))) == normalize(pypi)


def test_conda_names_data_states_sources() -> None:
    text = resources.files("pkgtool").joinpath("data/conda_names.json").read_text("utf-8")
    data = json.loads(text)
    assert data["format"] == 1
    for entry in data["names"]:
        assert entry["source"] and entry["ref"], entry
        assert is_valid_name(entry["pypi"]), entry


def test_normalize_is_pep_503() -> None:
    assert normalize("Ruamel.YAML__clib") == "ruamel-yaml-clib"


def test_conda_to_pip_uses_the_name_table() -> None:
    assert conda_to_pip("conda-forge::pytorch=2.1") == "torch==2.1.*"
    assert conda_to_pip("py-opencv>=4") == "opencv-python>=4"
    assert conda_to_pip("numpy 1.2.3 py311_0") == "numpy==1.2.3"


def test_conda_only_names_are_never_pypi_distributions() -> None:
    assert is_conda_only("cdo") and is_conda_only("r-base") and is_conda_only("r-ggplot2")
    assert not is_conda_only("numpy") and not is_conda_only("python-cdo")
    assert pypi_name("python-cdo") == "cdo" and conda_name("cdo") == "python-cdo"
