"""Static reading of the conditions that make an import optional.

An import is *optional* when the script still runs without it:

- inside the body of a ``try`` whose handlers catch ``ImportError``,
  ``ModuleNotFoundError``, ``Exception``/``BaseException`` or everything (bare
  ``except``), or inside ``with contextlib.suppress(ImportError):`` -- unless the
  handler cannot go on without it (:func:`guard_is_fatal`: it exits, raises, or
  pip-installs the package and retries);
- inside such a handler, when the guarded imports resolve on the target
  (:func:`resolves_on_target`): the handler's imports are alternatives that never run
  (``except ImportError: import urllib2`` beside ``import urllib.request``;
  ``import tomli`` beside ``tomllib`` on 3.11);
- in a branch that is never taken on the target: ``if TYPE_CHECKING:`` (PEP 484: false
  at run time), ``if sys.version_info < (3, 11):`` when the target is 3.11,
  ``if sys.platform == "win32":`` (worker nodes are Linux), ``if __name__ ==
  "__main__":`` in a module that is imported rather than run.

Conditions pkgtool cannot decide statically are treated as "may run".
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


@dataclass(frozen=True)
class Target:
    """Where the analysed code will run.

    ``version`` is the target ``(major, minor)``; ``platform`` the ``sys.platform``
    value of the worker nodes; ``is_main`` whether the file runs as ``__main__``
    (an entry script) rather than being imported.
    """

    version: tuple[int, int]
    platform: str = "linux"
    os_name: str = "posix"
    is_main: bool = True


def dotted_name(node: ast.expr) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _last(name: str | None) -> str | None:
    return None if name is None else name.rsplit(".", 1)[-1]


def catches_import_error(handlers: Sequence[ast.ExceptHandler]) -> bool:
    """True if one of a ``try``'s handlers catches ``ImportError`` (or a base of it)."""
    for handler in handlers:
        if handler.type is None:
            return True
        types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(_last(dotted_name(t)) in _IMPORT_ERRORS for t in types):
            return True
    return False


_EXITS = frozenset({"sys.exit", "exit", "quit", "os._exit", "os.abort", "sys.abort"})
_RUNNERS = frozenset({"check_call", "check_output", "call", "run", "Popen", "system", "main"})


def _walk_local(nodes: Sequence[ast.stmt]) -> Iterator[ast.AST]:
    """Every node under ``nodes``, not descending into nested ``def``/``class`` bodies
    (their code does not run when the handler runs)."""
    todo: list[ast.AST] = list(nodes)
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        todo.extend(ast.iter_child_nodes(node))


def import_tops(nodes: Sequence[ast.stmt]) -> list[tuple[str, int]]:
    """``(top-level name, PEP 328 level)`` of the import statements in ``nodes``."""
    found: list[tuple[str, int]] = []
    for node in _walk_local(nodes):
        if isinstance(node, ast.Import):
            found.extend((a.name.split(".")[0], 0) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append(((node.module or "").split(".")[0], node.level or 0))
    return found


def _installs(call: ast.Call) -> bool:
    """A call that runs pip to install something: ``subprocess.check_call([sys.executable,
    "-m", "pip", "install", "x"])``, ``os.system("pip install x")``, ``pip.main(["install",
    "x"])``; a ``print("pip install x")`` is a message, not an install."""
    func = _last(dotted_name(call.func))
    if func not in _RUNNERS:
        return False
    words: list[str] = []
    for node in ast.walk(call):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            words.extend(node.value.split())
    full = dotted_name(call.func) or ""
    pip = any(w in ("pip", "pip3") or w.endswith("/pip") for w in words) or "pip" in full
    return pip and "install" in words


def installer_functions(tree: ast.Module, source: bytes) -> frozenset[str]:
    """Names of the functions defined in ``tree`` (at any depth, methods included) whose
    own body pip-installs something (:func:`_installs`): ``def install(package):
    subprocess.check_call([sys.executable, "-m", "pip", "install", package])``.

    ``source`` is the file's bytes: only statements spanning a line that mentions
    ``pip`` are visited (a pip call names it on one of its lines)."""
    lines = [i for i, text in enumerate(source.splitlines(), 1) if b"pip" in text]
    found: set[str] = set()
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        end = node.end_lineno or node.lineno
        if not any(node.lineno <= line <= end for line in lines):
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
            isinstance(n, ast.Call) and _installs(n) for n in _walk_local(node.body)
        ):
            found.add(node.name)
        for field in ("body", "orelse", "finalbody", "handlers"):
            todo.extend(s for s in getattr(node, field, ()) if isinstance(s, ast.stmt))
        for handler in getattr(node, "handlers", ()):
            todo.extend(handler.body)
    return frozenset(found)


def guard_is_fatal(
    body: Sequence[ast.stmt],
    handlers: Sequence[ast.ExceptHandler],
    installers: Collection[str] = frozenset(),
) -> bool:
    """True if the imports of a ``try`` body are required although the ``try`` catches
    ``ImportError``: a handler pip-installs the package (and retries), itself or by
    calling one of ``installers`` (the file's own functions that pip-install,
    :func:`installer_functions`: one local call deep), or every handler that catches
    it exits or raises without importing an alternative of its own.

    Real-world patterns: ``except ImportError: print("pip install requests");
    sys.exit(1)`` (command-line tools), ``except ImportError as e: raise
    ImportError("... requires pandas") from e`` (libraries), ``except ImportError:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "rich"]); import rich``
    (notebooks and one-file scripts). ``warnings.warn(...)`` or a fallback assignment
    (``np = None``) is not fatal.
    """
    guarded = {top for top, level in import_tops(body) if level == 0}
    relevant = [h for h in handlers if catches_import_error([h])]
    if not relevant:
        return False
    fatal_all = True
    for handler in relevant:
        nodes = list(_walk_local(handler.body))
        if any(
            isinstance(n, ast.Call) and (_installs(n) or _last(dotted_name(n.func)) in installers)
            for n in nodes
        ):
            return True
        fallback = any(top not in guarded for top, _ in import_tops(handler.body))
        stops = any(
            isinstance(n, ast.Raise) or (isinstance(n, ast.Call) and dotted_name(n.func) in _EXITS)
            for n in nodes
        )
        fatal_all = fatal_all and stops and not fallback
    return fatal_all


def resolves_on_target(body: Sequence[ast.stmt], target_stdlib: Collection[str]) -> bool:
    """True if the imports of a ``try`` body surely succeed on the target, so that the
    imports of its ``except ImportError`` handlers are alternatives that never run.

    That is when every name it imports is in the target's standard library (or is a
    relative import of the code's own package): ``import urllib.request`` beside
    ``except ImportError: import urllib2``; ``import tomllib`` on 3.11 beside ``import
    tomli``; ``from importlib.metadata import version`` beside ``importlib_metadata``.
    A standard-library name of another version (``tomllib`` on 3.10) or a distribution
    (which may be missing: ``import ujson`` beside ``import simplejson``) does not: the
    handler's fallback is then the import that surely works, and stays required. A body
    without imports resolves nothing.
    """
    tops = import_tops(body)
    if not tops:
        return False
    return all(level > 0 or top in target_stdlib for top, level in tops)


def suppresses_import_error(items: Sequence[ast.withitem]) -> bool:
    """True for ``with suppress(ImportError):`` / ``contextlib.suppress(...)``."""
    for item in items:
        call = item.context_expr
        if (
            isinstance(call, ast.Call)
            and _last(dotted_name(call.func)) == "suppress"
            and any(_last(dotted_name(arg)) in _IMPORT_ERRORS for arg in call.args)
        ):
            return True
    return False


def static_truth(test: ast.expr, target: Target) -> bool | None:
    """The value of an ``if`` test on ``target``, or None when it cannot be known.

    Understands ``TYPE_CHECKING`` (any ``*.TYPE_CHECKING``), comparisons of
    ``sys.version_info`` (also ``[:2]``, ``[0]``, ``.major``/``.minor``) with int
    tuples, ``sys.platform``/``os.name`` equality, ``sys.platform.startswith(...)``,
    ``__name__ == "__main__"``, and ``not``/``and``/``or`` of those.
    """
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = static_truth(test.operand, target)
        return None if inner is None else not inner
    if isinstance(test, ast.BoolOp):
        values = [static_truth(v, target) for v in test.values]
        if isinstance(test.op, ast.And):
            if False in values:
                return False
            return True if all(v is True for v in values) else None
        if True in values:
            return True
        return False if all(v is False for v in values) else None
    if _last(dotted_name(test)) == "TYPE_CHECKING":
        return False
    if isinstance(test, ast.Call):
        return _startswith(test, target)
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        return _compare(test.left, test.ops[0], test.comparators[0], target)
    return None


def _startswith(call: ast.Call, target: Target) -> bool | None:
    func = call.func
    if (
        isinstance(func, ast.Attribute)
        and func.attr == "startswith"
        and dotted_name(func.value) == "sys.platform"
        and len(call.args) == 1
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
    ):
        return target.platform.startswith(call.args[0].value)
    return None


def _values(node: ast.expr, target: Target) -> list[object] | None:
    """The possible target-side values of ``node``; None when unknown.

    ``sys.version_info`` is a 5-tuple whose micro version is unknown, so it is
    represented by two samples (micro 0 and micro "infinity"): a comparison is decided
    only when both samples agree.
    """
    name = dotted_name(node)
    if name == "sys.platform":
        return [target.platform]
    if name == "os.name":
        return [target.os_name]
    if name == "__name__":
        return ["__main__" if target.is_main else "<imported module>"]
    if name == "sys.version_info":
        return [(*target.version, 0), (*target.version, 10**6)]
    if name in ("sys.version_info.major", "sys.version_info.minor"):
        return [target.version[0 if name.endswith("major") else 1]]
    if isinstance(node, ast.Subscript) and dotted_name(node.value) == "sys.version_info":
        index = node.slice
        if isinstance(index, ast.Constant) and type(index.value) is int and index.value in (0, 1):
            return [target.version[index.value]]
        if (
            isinstance(index, ast.Slice)
            and index.lower is None
            and index.step is None
            and isinstance(index.upper, ast.Constant)
            and type(index.upper.value) is int
            and index.upper.value in (1, 2)
        ):
            return [target.version[: index.upper.value]]
        return None
    if isinstance(node, ast.Constant) and type(node.value) in (str, int):
        return [node.value]
    if (
        isinstance(node, ast.Tuple)
        and len(node.elts) <= 3
        and all(isinstance(e, ast.Constant) and type(e.value) is int for e in node.elts)
    ):
        return [tuple(e.value for e in node.elts if isinstance(e, ast.Constant))]
    return None


def _compare(left: ast.expr, op: ast.cmpop, right: ast.expr, target: Target) -> bool | None:
    fn = _COMPARE.get(type(op))
    lefts, rights = _values(left, target), _values(right, target)
    if fn is None or lefts is None or rights is None:
        return None
    results = set()
    for a in lefts:
        for b in rights:
            if type(a) is not type(b):
                return None
            results.add(bool(fn(a, b)))
    return results.pop() if len(results) == 1 else None
