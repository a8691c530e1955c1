"""Find the imports in one Python source file by walking its ``ast`` (nothing is executed).

What counts as an import:

- ``import a.b`` and ``from a.b import c`` (the import system's two statements,
  language reference section 7.11), including relative forms ``from . import x`` and
  ``from ..pkg import y`` (PEP 328);
- ``__import__("x")``, ``importlib.import_module("x")`` and ``import_module("x")``
  when the module name is a string literal (``kind="dynamic"``);
  ``import_module(".x", "pkg")`` is resolved against the literal package
  (``kind="relative-dynamic"``: the walker only ever takes it as local code), and
  ``import_module(".x", __package__)`` is a relative import (PEP 328 level 1).

Each is reported with where it sits: top level or inside a ``def``/``class`` body, the
enclosing functions, and whether it is optional (see :mod:`._conditions`).
"""

from __future__ import annotations

import ast
import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from pkgtool.analyzer._conditions import (
    Target,
    catches_import_error,
    dotted_name,
    guard_is_fatal,
    installer_functions,
    resolves_on_target,
    static_truth,
    suppresses_import_error,
)
from pkgtool.analyzer._quickscan import candidate_lines, may_import_dynamically
from pkgtool.analyzer._stdlib import stdlib_modules

_BLOCK_FIELDS = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})
_DYNAMIC = frozenset({"__import__", "importlib.__import__", "importlib.import_module"})


class ScanError(Exception):
    """The file cannot be parsed; ``line`` is 1-based or None, ``message`` one line."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True)
class ImportSite:
    """One import found in a file.

    ``module`` is the dotted name as written, without leading dots (``""`` for
    ``from . import x``); ``level`` the PEP 328 level (0 absolute, 1 for ``.``, 2 for
    ``..``); ``names`` the names of a ``from`` import (``("*",)`` for a star import,
    ``()`` for ``import a.b``); ``line`` is 1-based. ``in_body`` is True inside any
    ``def`` or ``class`` body; ``functions`` holds the qualified names
    (``"Klass.method"``) of the enclosing functions, outermost first. ``conditional``
    is True off the default path (:func:`scan_tree`): in a branch of an ``if`` whose test
    cannot be decided statically (``if args.tfds:``), or, in a script run as
    ``__main__`` that has an ``if __name__ == "__main__":`` block, in a function that
    nothing in the file names besides its ``def`` (so nothing calls it; a module's
    functions, and those of a file of sample functions, are called from other files).
    """

    module: str
    level: int
    names: tuple[str, ...]
    line: int
    optional: bool = False
    kind: str = "import"
    in_body: bool = False
    functions: tuple[str, ...] = ()
    conditional: bool = False


@dataclass(frozen=True)
class FileScan:
    """The imports of one file, in source order, and its literal ``__all__`` (or None)."""

    sites: tuple[ImportSite, ...]
    all_names: tuple[str, ...] | None = None


@dataclass(frozen=True)
class _Ctx:
    optional: bool = False
    in_body: bool = False
    functions: tuple[str, ...] = ()
    qualname: str = ""
    installers: frozenset[str] = frozenset()  # the file's pip-installing functions
    conditional: bool = False  # off the default path (ImportSite.conditional)
    source: bytes = b""  # the file's bytes, to find the names a def is called by


def parse(source: bytes, filename: str) -> ast.Module:
    """Parse ``source`` (bytes, so PEP 263 coding cookies and BOMs are honoured).

    Raises:
        ScanError: a syntax error, undecodable text, null bytes, or nesting too deep.
    """
    try:
        return ast.parse(source, filename)
    except SyntaxError as exc:
        line = exc.lineno if exc.lineno and exc.lineno > 0 else None
        raise ScanError(line, f"syntax error: {exc.msg}") from exc
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        raise ScanError(None, f"cannot parse: {str(exc) or type(exc).__name__}") from exc


def scan_source(source: bytes, filename: str, target: Target) -> FileScan:
    """Parse and scan a file's bytes; see :func:`scan_tree`. Raises ScanError."""
    tree = parse(source, filename)
    try:
        dynamic = may_import_dynamically(source)
        lines = candidate_lines(source)
        pip = b"pip" in source and b"install" in source  # else no function installs
        installers = installer_functions(tree, source) if pip else frozenset()
        # only a script with a __main__ block has a default path that leaves functions out
        calls = source if target.is_main and b"__main__" in source else b""
        return scan_tree(tree, target, dynamic, lines, installers, calls)
    except RecursionError as exc:
        raise ScanError(None, "cannot analyse: expressions nested too deeply") from exc


def scan_tree(
    tree: ast.Module,
    target: Target,
    dynamic: bool = True,
    lines: Sequence[int] | None = None,
    installers: frozenset[str] = frozenset(),
    source: bytes = b"",
) -> FileScan:
    """All imports of ``tree`` with their context, in source order.

    ``dynamic=False`` skips the search for dynamic imports; ``lines`` (ascending, None:
    all) are the only lines that can hold an import or ``__all__``: blocks spanning none
    of them are not visited (see :mod:`._quickscan`); ``installers`` the file's
    functions that pip-install (:func:`._conditions.installer_functions`); ``source`` the
    file's bytes: a function whose name occurs in them only once (its ``def``) is never
    called by the file, so its imports are ``conditional`` (empty: every function counts
    as called).
    """
    sites: list[ImportSite] = []
    all_names: list[str] | None = None
    root = _Ctx(installers=installers, source=source)
    stack: list[tuple[list[ast.stmt], _Ctx]] = [(tree.body, root)]
    while stack:
        body, ctx = stack.pop()
        for stmt in body:
            sites.extend(_statement_sites(stmt, ctx))
            for expr in _expressions(stmt) if dynamic else ():
                sites.extend(_dynamic_sites(expr, ctx))
            if lines is None or _spans(stmt, lines):
                stack.extend(reversed(list(_blocks(stmt, ctx, target))))
            if not ctx.in_body:
                all_names = _update_all(stmt, all_names)
    sites.sort(key=lambda s: s.line)
    return FileScan(tuple(sites), None if all_names is None else tuple(all_names))


def _spans(stmt: ast.stmt, lines: Sequence[int]) -> bool:
    """True if one of ``lines`` (ascending) is within the lines of ``stmt``."""
    i = bisect.bisect_left(lines, stmt.lineno)
    end = stmt.end_lineno if stmt.end_lineno is not None else stmt.lineno
    return i < len(lines) and lines[i] <= end


def _statement_sites(stmt: ast.stmt, ctx: _Ctx) -> list[ImportSite]:
    found: list[tuple[str, int, tuple[str, ...]]]
    if isinstance(stmt, ast.Import):
        found = [(a.name, 0, ()) for a in stmt.names]
    elif isinstance(stmt, ast.ImportFrom):
        found = [(stmt.module or "", stmt.level or 0, tuple(a.name for a in stmt.names))]
    else:
        return []
    return [
        ImportSite(
            module,
            level,
            names,
            stmt.lineno,
            ctx.optional,
            "import",
            ctx.in_body,
            ctx.functions,
            ctx.conditional,
        )
        for module, level, names in found
    ]


def _blocks(stmt: ast.stmt, ctx: _Ctx, target: Target) -> Iterator[tuple[list[ast.stmt], _Ctx]]:
    """The nested statement lists of ``stmt`` with the context each runs in."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        qual = f"{ctx.qualname}.{stmt.name}" if ctx.qualname else stmt.name
        funcs = ctx.functions
        if not isinstance(stmt, ast.ClassDef):
            funcs = (*funcs, qual)
        # a module's functions are called from other files; a script's only by itself
        called = (
            isinstance(stmt, ast.ClassDef)
            or not target.is_main
            or _named_elsewhere(stmt.name, ctx.source)
        )
        inner = replace(ctx, in_body=True, functions=funcs, qualname=qual)
        yield stmt.body, replace(inner, conditional=ctx.conditional or not called)
    elif isinstance(stmt, ast.If):
        truth = static_truth(stmt.test, target)
        branch = ctx.conditional or truth is None
        yield stmt.body, replace(ctx, optional=ctx.optional or truth is False, conditional=branch)
        yield stmt.orelse, replace(ctx, optional=ctx.optional or truth is True, conditional=branch)
    elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
        handlers: list[ast.ExceptHandler] = getattr(stmt, "handlers", [])
        body: list[ast.stmt] = getattr(stmt, "body", [])
        catches = catches_import_error(handlers)
        fatal = catches and guard_is_fatal(body, handlers, ctx.installers)
        guarded = ctx.optional or (catches and not fatal)
        yield body, replace(ctx, optional=guarded)
        alternative = catches and resolves_on_target(body, stdlib_modules(target.version))
        for handler in handlers:
            yield handler.body, replace(ctx, optional=ctx.optional or alternative)
        yield getattr(stmt, "orelse", []), ctx
        yield getattr(stmt, "finalbody", []), ctx
    elif isinstance(stmt, (ast.With, ast.AsyncWith)):
        yield stmt.body, replace(ctx, optional=ctx.optional or suppresses_import_error(stmt.items))
    elif isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
        yield stmt.body, ctx
        yield stmt.orelse, ctx
    elif type(stmt).__name__ == "Match":
        for case in getattr(stmt, "cases", []):
            yield case.body, ctx


def _named_elsewhere(name: str, source: bytes) -> bool:
    """True if ``name`` occurs in ``source`` more than once as a whole word (its ``def``
    and a call, a reference ``fire.Fire(main)``, ``self.name()``...); True when
    ``source`` is empty (not known)."""
    if not source:
        return True
    word = name.encode()
    seen = 0
    start = source.find(word)
    while start >= 0:
        end = start + len(word)
        before = source[start - 1 : start] if start else b" "
        after = source[end : end + 1] or b" "
        if not (before.isalnum() or before == b"_" or after.isalnum() or after == b"_"):
            seen += 1
            if seen > 1:
                return True
        start = source.find(word, end)
    return False


def _expressions(stmt: ast.stmt) -> Iterator[ast.AST]:
    """The expression parts of ``stmt`` (never its nested statements)."""
    for name, value in ast.iter_fields(stmt):
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, ast.AST) or isinstance(item, ast.stmt):
                continue
            if name in _BLOCK_FIELDS:  # except handlers and match cases: their headers
                for sub_name, sub in ast.iter_fields(item):
                    if sub_name != "body" and isinstance(sub, ast.AST):
                        yield sub
            else:
                yield item


def _dynamic_sites(expr: ast.AST, ctx: _Ctx) -> Iterator[ImportSite]:
    for node in ast.walk(expr):
        if not isinstance(node, ast.Call):
            continue
        func = dotted_name(node.func)
        if func not in _DYNAMIC and func != "import_module":
            continue
        site = _dynamic_site(node, func == "__import__" or func.endswith(".__import__"))
        if site is not None:
            yield replace(
                site,
                optional=ctx.optional,
                in_body=ctx.in_body,
                functions=ctx.functions,
                conditional=ctx.conditional,
            )


def _literal(node: ast.expr | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _dynamic_site(call: ast.Call, is_dunder: bool) -> ImportSite | None:
    """``__import__(name, g, l, fromlist, level)`` or ``import_module(name, package)``."""
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    name = _literal(call.args[0]) if call.args else _literal(keywords.get("name"))
    if not isinstance(name, str) or not name.strip("."):
        return None
    if is_dunder:
        level = _literal(call.args[4]) if len(call.args) > 4 else _literal(keywords.get("level"))
        level = level if isinstance(level, int) and level > 0 else 0
        return ImportSite(name, level, (), call.lineno, kind="dynamic")
    dots = len(name) - len(name.lstrip("."))
    if not dots:
        return ImportSite(name, 0, (), call.lineno, kind="dynamic")
    # A relative name is relative to the ``package`` argument. Real code mostly passes
    # ``__package__``/``__name__`` (plugin loaders: ``import_module(f".{name}",
    # package=__package__)``): then it is relative to the calling module's package, like
    # ``from . import x`` (PEP 328). With a literal package it is resolved against it and
    # marked ``relative-dynamic``: either way it names the code's own package, so the
    # walker never emits it as a distribution (that would invite dependency confusion).
    package = _literal(call.args[1]) if len(call.args) > 1 else _literal(keywords.get("package"))
    if not isinstance(package, str) or not package:
        return ImportSite(name[dots:], dots, (), call.lineno, kind="dynamic")
    parts = package.split(".")
    if dots - 1 >= len(parts):
        return None
    base = ".".join(parts[: len(parts) - (dots - 1)])
    return ImportSite(f"{base}.{name[dots:]}", 0, (), call.lineno, kind="relative-dynamic")


def _update_all(stmt: ast.stmt, current: list[str] | None) -> list[str] | None:
    """Follow literal ``__all__ = [...]``, ``__all__ += [...]``, ``__all__.extend([...])``."""
    value: ast.expr | None = None
    extend = False
    if isinstance(stmt, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "__all__" for t in stmt.targets
    ):
        value = stmt.value
    elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        value = stmt.value if stmt.target.id == "__all__" else None
    elif (
        isinstance(stmt, ast.AugAssign)
        and isinstance(stmt.target, ast.Name)
        and stmt.target.id == "__all__"
    ):
        value, extend = stmt.value, True
    elif (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Call)
        and dotted_name(stmt.value.func) == "__all__.extend"
        and stmt.value.args
    ):
        value, extend = stmt.value.args[0], True
    if not isinstance(value, (ast.List, ast.Tuple)):
        return current
    names = [
        e.value for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
    ]
    return [*(current or []), *names] if extend else names
