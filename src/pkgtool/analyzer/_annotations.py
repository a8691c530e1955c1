"""What ``pkg call``'s packagers need for one function: the modules its annotations name.

``pkg call`` turns inputs into the types a function's parameters are annotated with and
writes its return values by their types (:mod:`pkgtool.call.pkgtool_call`). Some of those
types need more than the module that defines them: a ``pandas.DataFrame`` is read from and
written to ``.parquet``/``.feather`` by pyarrow, which nothing imports by name. For
``pkg analyze --function NAME`` this module reads the annotations of ``def NAME`` in the
entry scripts (source text only: nothing is imported) and says which modules to add.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGER_NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "pandas.DataFrame": (
        ("pandas", "the DataFrame type itself"),
        ("pyarrow", "it reads and writes .parquet/.feather (the default dataset format)"),
    ),
    "numpy.ndarray": (("numpy", "the ndarray type itself"),),
}
"""Annotated type -> (module to import on the node, why), for the built-in packagers."""


@dataclass(frozen=True)
class Need:
    """A module the packagers need: ``module``, the annotation's ``file`` and 1-based
    ``line``, the annotated ``type`` and ``why``."""

    module: str
    file: Path
    line: int
    type: str
    why: str


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Names bound by the module's imports: ``pd`` -> ``pandas``, ``DataFrame`` ->
    ``pandas.DataFrame``."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name.split(".")[0]] = (
                    a.name if a.asname else a.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _types(annotation: ast.expr, aliases: dict[str, str]) -> list[str]:
    """The dotted names of the types inside ``annotation`` (quoted annotations too)."""
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return []
    found = []
    for node in ast.walk(annotation):
        name = _dotted(node) if isinstance(node, ast.Name | ast.Attribute) else None
        if name is None:
            continue
        head, _, rest = name.partition(".")
        full = aliases.get(head, head) + (f".{rest}" if rest else "")
        found.append(full)
    return found


def _canonical(name: str) -> str | None:
    """``pandas.core.frame.DataFrame`` and ``pandas.DataFrame`` -> ``pandas.DataFrame``."""
    for known in PACKAGER_NEEDS:
        package, _, cls = known.rpartition(".")
        if name == known or (name.startswith(package + ".") and name.endswith("." + cls)):
            return known
    return None


def _functions(tree: ast.Module, name: str) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    last = name.rsplit(".", 1)[-1]
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == last
    ]


def packager_needs(scripts: list[Path], function: str) -> list[Need]:
    """The modules the packagers need for ``function`` (``NAME`` or ``Class.method``) as
    the entry ``scripts`` define it, each once, in the order found. Unreadable or
    unparsable scripts are skipped (the analysis reports them)."""
    needs: dict[str, Need] = {}
    for script in scripts:
        try:
            tree = ast.parse(script.read_bytes(), filename=str(script))
        except (OSError, SyntaxError, ValueError):
            continue
        aliases = _aliases(tree)
        for fn in _functions(tree, function):
            args = [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]
            annotated = [(a.annotation, a.lineno) for a in args if a.annotation is not None]
            if fn.returns is not None:
                annotated.append((fn.returns, fn.returns.lineno))
            for annotation, line in annotated:
                for name in _types(annotation, aliases):
                    known = _canonical(name)
                    for module, why in PACKAGER_NEEDS.get(known or "", ()):
                        needs.setdefault(module, Need(module, script, line, known or name, why))
    return list(needs.values())
