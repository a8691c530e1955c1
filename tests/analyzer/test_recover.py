"""Unit tests of :func:`pkgtool.analyzer._recover.recover_imports` (imports from tokens)."""

from __future__ import annotations

import ast
import textwrap

import pytest

from pkgtool.analyzer._conditions import Target
from pkgtool.analyzer._recover import recover_imports
from pkgtool.analyzer._scan import ImportSite

TARGET = Target((3, 11), is_main=False)


def recover(text: str, target: Target = TARGET) -> list[tuple[str, int, tuple[str, ...], int]]:
    sites = recover_imports(textwrap.dedent(text).encode(), target)
    return [(s.module, s.level, s.names, s.line) for s in sites]


def sites(text: str) -> dict[str, ImportSite]:
    return {s.module: s for s in recover_imports(textwrap.dedent(text).encode(), TARGET)}


def test_statement_forms() -> None:
    assert recover(
        """\
        import os, sys as system
        import a.b.c as abc, d
        from x.y import (p,
                         q as r)
        from .. import parent
        from .sib import *
        from ...deep.mod import z; import after_semicolon
        print "python 2"
        """
    ) == [
        ("os", 0, (), 1),
        ("sys", 0, (), 1),
        ("a.b.c", 0, (), 2),
        ("d", 0, (), 2),
        ("x.y", 0, ("p", "q"), 3),
        ("", 2, ("parent",), 5),
        ("sib", 1, ("*",), 6),
        ("deep.mod", 3, ("z",), 7),
        ("after_semicolon", 0, (), 7),
    ]


def test_what_is_not_an_import() -> None:
    assert (
        recover(
            """\
            def gen():
                yield from items
            raise ValueError("x") from None
            text = "import not_this"
            # import nor_this
            from import_helpers_only_as_a_name = 1
            important = 2
            """
        )
        == []
    )


def test_block_context_like_the_ast_scan() -> None:
    found = sites(
        """\
        try:
            import simplejson as json
        except ImportError, e:
            import json
        try: import cPickle
        except: import pickle
        try:
            import must_have
        except ValueError:
            pass
        if sys.version_info[0] == 2:
            import urllib2
        else:
            import urllib.request
        if sys.version_info >= (3,):
            import py3_only
        else:
            import py2_only
        if TYPE_CHECKING:
            import typing_only
        if __name__ == "__main__":
            import when_main
        class Model:
            def fit(self):
                import in_method
        """
    )
    optional = {name for name, site in found.items() if site.optional}
    assert optional == {
        "simplejson",
        "cPickle",
        "urllib2",
        "py2_only",
        "typing_only",
        "when_main",
    }
    assert found["in_method"].in_body
    assert found["in_method"].functions == ("Model.fit",)
    assert not found["json"].in_body


def test_main_block_is_required_in_an_entry_script() -> None:
    main = recover_imports(b'if __name__ == "__main__":\n    import m\n', Target((3, 11)))
    assert [s.optional for s in main] == [False]


def test_reading_goes_on_after_tokenizer_errors() -> None:
    text = (
        "import first\n"
        "call(unclosed,\n"
        "import after_bracket\n"
        "s = '''never closed\n"
        "import inside_string\n"
    )
    # A string that never closes is no string: the line after it is read as code.
    assert [m for m, *_ in recover(text)] == ["first", "after_bracket", "inside_string"]
    assert recover("def f():\n  x = 1\n import dedented\nimport last\n") == [
        ("dedented", 0, (), 3),
        ("last", 0, (), 4),
    ]


@pytest.mark.parametrize(
    "source",
    [
        b"# -*- coding: latin-1 -*-\nname = '\xe9'\nimport numpy\n",
        b"\xef\xbb\xbfimport numpy\n\xff\n",
        b"import numpy\x00\n",
        b"# coding: no-such-codec\nimport numpy\n",
        b"x = `1`\nimport numpy\n",
    ],
)
def test_awkward_bytes(source: bytes) -> None:
    assert [s.module for s in recover_imports(source, TARGET)] == ["numpy"]


def test_agrees_with_the_ast_on_valid_code() -> None:
    text = textwrap.dedent(
        """\
        import a, b.c
        from d import (e, f)
        from . import g
        def h():
            from ..i import j
        """
    )
    tree = ast.parse(text)
    expected: list[tuple[str, int, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            expected += [(alias.name, 0, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            expected.append((node.module or "", node.level, node.lineno))
    found = [(module, level, line) for module, level, _, line in recover(text)]
    assert sorted(found) == sorted(expected)
