"""Lookups in an analysis result shared by the analyzer tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

from pkgtool.analyzer import AnalysisResult
from pkgtool.spec import ImportRecord


def record(result: AnalysisResult, module: str) -> ImportRecord:
    """The one record of ``module``; fails the test if there is not exactly one."""
    matches = [r for r in result.imports if r.module == module]
    assert len(matches) == 1, f"{module} not recorded once in {result.imports}"
    return matches[0]


def modules(result: AnalysisResult) -> set[str]:
    """The import names recorded in ``result``."""
    return {r.module for r in result.imports}


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Create ``files`` (relative path -> dedented text) under ``root``; return root."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root
