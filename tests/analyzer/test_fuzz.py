"""Arbitrary input never makes the analyzer raise: it returns Problems instead."""

from __future__ import annotations

import tempfile
from pathlib import Path

import hypothesmith
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pkgtool.analyzer import AnalyzeOptions, analyze

FRAGMENTS = [
    "import os\n",
    "import numpy\n",
    "import helper\n",
    "from . import x\n",
    "from .. import y\n",
    "from pkg import *\n",
    "from pkg.sub import z\n",
    "import pkg.sub.deep\n",
    "try:\n",
    "    import yaml\n",
    "except ImportError:\n",
    "    pass\n",
    "if TYPE_CHECKING:\n",
    "if sys.version_info >= (3, 11):\n",
    "def f():\n",
    "class K:\n",
    "__import__('helper')\n",
    "importlib.import_module('.q', 'pkg')\n",
    "__all__ = ['sub']\n",
    "\x00",
    "\ufeff",
    "(",
    "    ",
    "\t",
    "ñ = 1\n",
]

LOCAL_FILES = {
    "helper.py": "import pkg\n",
    "pkg/__init__.py": "from .sub import z\n",
    "pkg/sub.py": "from .. import helper\n",
}


def _analyze(main: bytes, function: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel, text in LOCAL_FILES.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        (root / "main.py").write_bytes(main)
        (root / "pkg" / "broken.py").write_bytes(main)
        result = analyze([root / "main.py"], AnalyzeOptions(spec_dir=root, function=function))
        assert str(root) not in result.spec.to_json()
        for problem in result.problems:
            assert str(problem)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes(data: bytes) -> None:
    _analyze(data, None)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text(text: str) -> None:
    _analyze(text.encode("utf-8", "surrogatepass"), None)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=25), st.sampled_from([None, "f"]))
def test_python_like_text(parts: list[str], function: str | None) -> None:
    _analyze("".join(parts).encode("utf-8"), function)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(hypothesmith.from_grammar(auto_target=False), st.sampled_from([None, "f"]))
def test_arbitrary_valid_python(source: str, function: str | None) -> None:
    """Grammar-generated Python (hypothesmith, from CPython's own grammar): analysed
    without an exception, and a file that compiles is never reported as a problem."""
    compile(source, "main.py", "exec")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "main.py").write_text(source, encoding="utf-8")
        result = analyze([root / "main.py"], AnalyzeOptions(spec_dir=root, function=function))
        assert result.problems == ()
