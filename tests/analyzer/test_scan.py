"""The AST scan and the static reading of conditions, file by file."""

from __future__ import annotations

import ast
import textwrap

import pytest

from pkgtool.analyzer._conditions import Target, static_truth
from pkgtool.analyzer._scan import ImportSite, ScanError, scan_source


def scan(source: str, version: tuple[int, int] = (3, 11), is_main: bool = True) -> list[ImportSite]:
    text = textwrap.dedent(source).encode()
    return list(scan_source(text, "t.py", Target(version, is_main=is_main)).sites)


def test_statement_forms() -> None:
    sites = scan(
        """\
        import a.b as ab, c
        from d.e import f, g as h
        from . import i
        from ..j import k
        from l import *
        """
    )
    assert [(s.module, s.level, s.names, s.line) for s in sites] == [
        ("a.b", 0, (), 1),
        ("c", 0, (), 1),
        ("d.e", 0, ("f", "g"), 2),
        ("", 1, ("i",), 3),
        ("j", 2, ("k",), 4),
        ("l", 0, ("*",), 5),
    ]
    assert all(s.kind == "import" and not s.optional and not s.in_body for s in sites)


def test_dynamic_forms() -> None:
    sites = scan(
        """\
        import importlib
        from importlib import import_module
        a = __import__("dyn.a")
        b = importlib.import_module("dyn_b")
        c = import_module(".c", "pkg.sub")
        d = import_module(name="..d", package="pkg.sub")
        e = __import__("e", globals(), locals(), [], 1)
        f = importlib.import_module(variable)
        g = import_module(".g")
        h = import_module("...h", "pkg")
        print([importlib.import_module("in_comprehension") for _ in range(1)])
        """
    )
    dynamic = [(s.module, s.level, s.line) for s in sites if s.kind == "dynamic"]
    assert dynamic == [
        ("dyn.a", 0, 3),
        ("dyn_b", 0, 4),
        ("e", 1, 7),
        ("g", 1, 9),  # relative to the caller's package, like ``from . import g``
        ("in_comprehension", 0, 11),
    ]
    relative = [(s.module, s.level, s.line) for s in sites if s.kind == "relative-dynamic"]
    assert relative == [("pkg.sub.c", 0, 5), ("pkg.d", 0, 6)]


def test_context_of_nested_code() -> None:
    sites = scan(
        """\
        class K:
            import in_class
            def m(self):
                import in_method
        async def f():
            import in_f
            def inner():
                import in_inner
            lam = lambda: __import__("in_lambda")
        for x in y:
            import in_loop
        """
    )
    by_name = {s.module: s for s in sites}
    assert by_name["in_class"].in_body and by_name["in_class"].functions == ()
    assert by_name["in_method"].functions == ("K.m",)
    assert by_name["in_inner"].functions == ("f", "f.inner")
    assert by_name["in_lambda"].functions == ("f",)
    assert not by_name["in_loop"].in_body


@pytest.mark.parametrize(
    ("source", "optional"),
    [
        ("try:\n    import m\nexcept ImportError:\n    pass\n", True),
        ("try:\n    import m\nexcept (OSError, ModuleNotFoundError):\n    pass\n", True),
        ("try:\n    import m\nexcept OSError:\n    pass\n", False),
        ("try:\n    import m\nfinally:\n    pass\n", False),
        ("try:\n    pass\nexcept ImportError:\n    import m\n", False),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import m\n", True),
        ("import typing\nif typing.TYPE_CHECKING:\n    import m\n", True),
        ("if not TYPE_CHECKING:\n    pass\nelse:\n    import m\n", True),
        ("if TYPE_CHECKING:\n    pass\nelse:\n    import m\n", False),
        ("import contextlib\nwith contextlib.suppress(ImportError):\n    import m\n", True),
        ("with open('x'):\n    import m\n", False),
        (
            "try:\n    if x:\n        def f():\n            import m\n"
            "except ImportError:\n    pass\n",
            True,
        ),
    ],
)
def test_optional(source: str, optional: bool) -> None:
    (site,) = [s for s in scan(source) if s.module == "m"]
    assert site.optional is optional


def test_optional_try_star() -> None:
    (site,) = scan("try:\n    import m\nexcept* ImportError:\n    pass\n")
    assert site.optional


def test_match_cases_are_scanned() -> None:
    sites = scan("match x:\n    case 1:\n        import m\n    case _:\n        import n\n")
    assert [s.module for s in sites] == ["m", "n"]


@pytest.mark.parametrize(
    ("test", "version", "expected"),
    [
        ("sys.version_info >= (3, 11)", (3, 11), True),
        ("sys.version_info >= (3, 11)", (3, 10), False),
        ("sys.version_info < (3, 8)", (3, 11), False),
        ("sys.version_info > (3, 11)", (3, 11), True),  # (3, 11, 0, ...) > (3, 11)
        ("sys.version_info == (3, 11)", (3, 11), False),
        ("sys.version_info[:2] == (3, 11)", (3, 11), True),
        ("sys.version_info >= (3, 11, 2)", (3, 11), None),
        ("sys.version_info >= (3, 11, 2)", (3, 12), True),
        ("sys.version_info[0] == 3", (3, 11), True),
        ("sys.version_info.minor >= 12", (3, 11), False),
        ("(3, 9) <= sys.version_info", (3, 11), True),
        ('sys.platform == "win32"', (3, 11), False),
        ('sys.platform.startswith("linux")', (3, 11), True),
        ('sys.platform != "darwin"', (3, 11), True),
        ('os.name == "nt"', (3, 11), False),
        ("TYPE_CHECKING", (3, 11), False),
        ('not TYPE_CHECKING and sys.platform == "linux"', (3, 11), True),
        ('TYPE_CHECKING or sys.platform == "win32"', (3, 11), False),
        ("TYPE_CHECKING or flag", (3, 11), None),
        ("TYPE_CHECKING and flag", (3, 11), False),
        ("flag", (3, 11), None),
        ("sys.version_info >= 'x'", (3, 11), None),
        ('__name__ == "__main__"', (3, 11), True),
    ],
)
def test_static_truth(test: str, version: tuple[int, int], expected: bool | None) -> None:
    expr = ast.parse(test, mode="eval").body
    assert static_truth(expr, Target(version)) is expected


def test_name_main_in_imported_module() -> None:
    expr = ast.parse('__name__ == "__main__"', mode="eval").body
    assert static_truth(expr, Target((3, 11), is_main=False)) is False


def test_literal_all() -> None:
    source = b"__all__ = ['a', 'b']\n__all__ += ('c',)\n__all__.extend(['d'])\n"
    source += b"def f():\n    __all__ = []\n"
    result = scan_source(source, "t.py", Target((3, 11)))
    assert result.all_names == ("a", "b", "c", "d")
    assert scan_source(b"x = 1\n", "t.py", Target((3, 11))).all_names is None


def test_coding_cookie_is_honoured() -> None:
    source = "# -*- coding: latin-1 -*-\nname = 'caf\xe9'\nimport m\n".encode("latin-1")
    assert [s.module for s in scan_source(source, "t.py", Target((3, 11))).sites] == ["m"]


@pytest.mark.parametrize(
    ("source", "line"),
    [(b"import\n", 1), (b"x = 1\n  y = 2\n", 2), (b"a\x00b\n", None), (b"x = '\xff'\n", None)],
)
def test_scan_errors(source: bytes, line: int | None) -> None:
    with pytest.raises(ScanError) as info:
        scan_source(source, "t.py", Target((3, 11)))
    if line is not None:
        assert info.value.line == line
    assert info.value.message


def test_deep_parentheses_are_a_scan_error() -> None:
    deep = b"x = " + b"(" * 300 + b"1" + b")" * 300 + b"\n"
    with pytest.raises(ScanError):
        scan_source(deep, "t.py", Target((3, 11)))


@pytest.mark.parametrize("depth", [10, 900, 5000, 50000])
def test_deep_conditions_never_crash(depth: int) -> None:
    nots = b"if " + b"not " * depth + b"x:\n    import m\n"
    try:
        sites = scan_source(nots, "t.py", Target((3, 11))).sites
    except ScanError as exc:
        assert exc.message.startswith("cannot ")
        assert not exc.message.endswith(": ")
    else:
        assert [s.module for s in sites] == ["m"]
