"""The standard-library table ``data/stdlib.json``."""

from __future__ import annotations

import json
import sys
from importlib import resources

import pytest

from pkgtool.analyzer._stdlib import (
    never_shadowed,
    parse_version,
    stdlib_modules,
    supported_versions,
)
from pkgtool.errors import UsageError


def test_table_shape() -> None:
    text = resources.files("pkgtool.analyzer").joinpath("data/stdlib.json").read_text("utf-8")
    table = json.loads(text)
    assert list(table) == [f"3.{minor}" for minor in range(8, 15)]
    for names in table.values():
        assert names == sorted(set(names))
        assert {"__future__", "os", "sys", "_thread", "json"} <= set(names)
    assert supported_versions() == tuple(table)


def test_running_version_matches_interpreter() -> None:
    here = (sys.version_info[0], sys.version_info[1])
    if f"{here[0]}.{here[1]}" not in supported_versions():
        pytest.skip("running Python is newer than the table")
    assert stdlib_modules(here) - {"__main__"} == sys.stdlib_module_names


@pytest.mark.parametrize(
    ("name", "present", "absent"),
    [
        ("distutils", "3.11", "3.12"),
        ("imp", "3.11", "3.12"),
        ("asyncore", "3.11", "3.12"),
        ("cgi", "3.12", "3.13"),
        ("lib2to3", "3.12", "3.13"),
        ("telnetlib", "3.12", "3.13"),
        ("binhex", "3.10", "3.11"),
        ("parser", "3.9", "3.10"),
        ("formatter", "3.9", "3.10"),
        ("dummy_threading", "3.8", "3.9"),
    ],
)
def test_removals(name: str, present: str, absent: str) -> None:
    assert name in stdlib_modules(parse_version(present))
    assert name not in stdlib_modules(parse_version(absent))


@pytest.mark.parametrize(
    ("name", "absent", "present"),
    [
        ("zoneinfo", "3.8", "3.9"),
        ("graphlib", "3.8", "3.9"),
        ("tomllib", "3.10", "3.11"),
        ("annotationlib", "3.13", "3.14"),
        ("compression", "3.13", "3.14"),
    ],
)
def test_additions(name: str, absent: str, present: str) -> None:
    assert name not in stdlib_modules(parse_version(absent))
    assert name in stdlib_modules(parse_version(present))


def test_parse_version() -> None:
    assert parse_version(None) == sys.version_info[:2]
    assert parse_version("3.12") == (3, 12)
    assert parse_version(" 3.9 ") == (3, 9)
    for bad in ("3", "3.x", "3.11.2", "2.7", "3.7", "4.1", ""):
        with pytest.raises(UsageError):
            parse_version(bad)


def test_never_shadowed() -> None:
    assert never_shadowed("os") and never_shadowed("sys") and never_shadowed("itertools")
    assert not never_shadowed("json") and not never_shadowed("yaml")
