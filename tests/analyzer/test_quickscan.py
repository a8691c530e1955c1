"""The byte pre-check that lets the scanner skip the search for dynamic imports."""

from __future__ import annotations

import pytest

from pkgtool.analyzer._conditions import Target
from pkgtool.analyzer._quickscan import may_import_dynamically
from pkgtool.analyzer._scan import ImportSite, scan_source


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (b"import os\nx = 1\n", False),
        (b"# -*- coding: latin-1 -*-\nimport os\n", False),
        (b"m = __import__('x')\n", True),
        (b"from importlib import import_module\n", True),
        ("s = 'caf\u00e9'\nimport os\n".encode(), False),
        ("\ufeffimport os\n".encode(), False),
        # PEP 3131: identifiers are NFKC-normalized, so this calls import_module
        ("from importlib import \uff49mport_module as f\n".encode(), True),
        # UTF-7 may spell "_" as "+AF8-": the bytes alone do not show the name
        (b"# coding: utf-7\nimport importlib\nimportlib.import+AF8-module('x')\n", True),
        (b"# coding: no-such-codec\n", True),
        (b"\xff\xfe not utf-8\n", True),
    ],
)
def test_may_import_dynamically(source: bytes, expected: bool) -> None:
    assert may_import_dynamically(source) is expected


def test_dynamic_imports_found_behind_an_encoding() -> None:
    source = b"# coding: utf-7\nimport importlib\nm = importlib.import+AF8-module('x')\n"
    sites = scan_source(source, "u7.py", Target((3, 11))).sites
    assert ImportSite("x", 0, (), 3, kind="dynamic") in sites


def test_no_dynamic_search_changes_nothing_without_dynamic_imports() -> None:
    source = b"import a\nif True:\n    from b import c\ndef f():\n    import d\n"
    scan = scan_source(source, "x.py", Target((3, 11)))
    assert [s.module for s in scan.sites] == ["a", "b", "d"]
