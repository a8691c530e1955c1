"""Call one function inside a pkgtool environment: ``python3 -m pkgtool_call``.

pkgtool places this package (stdlib only, Python >= 3.8) in every environment it builds;
``pkg call ARCHIVE MODULE:FUNCTION ...`` runs ``python3 -m pkgtool_call MODULE:FUNCTION ...``
there through the runner, and so can ``pkg-run.sh env.tar.gz python3 -m pkgtool_call ...``
or ``./env.sh python3 -m pkgtool_call ...``.

1. Each ``--input NAME=VALUE`` becomes the type the parameter ``NAME``'s annotation names,
   by a packager (:mod:`._packagers`); a parameter without annotation gets the text. A
   missing, unknown or unconvertible input is exit 2 before the function runs.
2. The function is imported (the code layer is on ``sys.path``) and called. An exception is
   exit 1: the traceback on stderr, then one ``error:`` line.
3. The return value (each item of a returned tuple, when ``--returns`` names several) is
   written by its log hint (:mod:`._hints`): kind ``result`` into ``DIR/results.json``,
   other kinds as ``DIR/NAME.FORMAT``; then ``DIR/outputs.json``, the manifest, last. A
   manifest from an earlier call in ``DIR`` is removed before the call, so a call that
   fails never leaves one.

``outputs.json``: ``{"format": 1, "function": "MODULE:FUNCTION", "outputs": [{"name",
"kind", "path" (relative to DIR), "sha256", "size" (bytes)}, ...]}``, in ``--returns`` order;
a result's path is ``results.json``.
"""

from __future__ import annotations

import argparse
import builtins
import importlib
import inspect
import os
import sys
import traceback
import typing
from typing import Any

from . import _hints, _outputs, _packagers

PROG = "pkgtool_call"
ARTIFACT_KINDS = ("dataset", "file")
"""Artifact kinds every environment knows (user packagers may add their ``kind``)."""


class CallError(Exception):
    """Stops the call: ``message`` and ``hint`` are printed, the exit status is ``code``."""

    def __init__(self, message: str, hint: str, code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


def parser() -> argparse.ArgumentParser:
    """The command line (the same options as ``pkg call`` after ARCHIVE)."""
    p = argparse.ArgumentParser(prog=PROG, description="Call MODULE:FUNCTION with typed inputs.")
    p.add_argument("target", metavar="MODULE:FUNCTION")
    p.add_argument("--input", "-i", action="append", default=[], metavar="NAME=PATH_OR_VALUE")
    p.add_argument("--returns", "-r", action="append", default=[], metavar="SPEC")
    p.add_argument("--out", "-o", default=".", metavar="DIR")
    return p


def parse_inputs(items: list[str]) -> dict[str, str]:
    """``NAME=VALUE`` items as a dict (``VALUE`` may hold ``=``).

    Raises:
        CallError: an item without ``=``, a name that is no identifier, a name twice.
    """
    found: dict[str, str] = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name.isidentifier():
            raise CallError(
                f"--input {item!r} is not NAME=PATH_OR_VALUE",
                "name a parameter of the function: --input NAME=VALUE",
            )
        if name in found:
            raise CallError(f"--input {name} is given twice", "give each parameter once")
        found[name] = value
    return found


def split_target(target: str) -> tuple[str, str]:
    """``("pkg.mod", "func")`` of ``pkg.mod:func`` (``func`` may be ``Class.method``).

    Raises:
        CallError: not MODULE:FUNCTION with dotted identifiers on both sides.
    """
    module, colon, function = target.partition(":")
    parts = module.split(".") + function.split(".")
    if not colon or not all(p.isidentifier() for p in parts):
        raise CallError(
            f"{target!r} is not MODULE:FUNCTION",
            "name the function as module:function, e.g. clean:clean_data",
        )
    return module, function


def _import(module: str, function: str) -> Any:
    try:
        obj: Any = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            raise CallError(
                f"no module {module!r} in the environment or its code layer",
                "check the name; local code must be in the archive's code layer "
                "(pkg create --include)",
            ) from None
        raise
    for attr in function.split("."):
        if not hasattr(obj, attr):
            raise CallError(
                f"module {module!r} has no function {function!r}",
                f"check the name after the colon in {module}:{function}",
            )
        obj = getattr(obj, attr)
    if not callable(obj):
        raise CallError(f"{module}:{function} is not callable", "name a function")
    return obj


# ---------------------------------------------------------------------------- annotations


def _union_members(annotation: Any) -> list[Any]:
    """The members of ``Optional[X]``, ``Union[X, Y]``, ``X | None`` (None left out), or
    ``[annotation]``."""
    origin = getattr(annotation, "__origin__", None)
    if origin is typing.Union or type(annotation).__name__ == "UnionType":
        return [a for a in annotation.__args__ if a is not type(None)]
    return [annotation]


def _names_from_text(text: str, globalns: dict[str, Any]) -> tuple[Any, list[tuple[str, str]]]:
    """An annotation that does not evaluate (``tuple[int, pd.DataFrame]`` on Python 3.8, a
    name imported under ``TYPE_CHECKING``): its class named from the text."""
    text = text.strip().strip("'\"")
    if text.startswith("Optional["):
        text = text[len("Optional[") :]
    text = text.split("|")[0].split("[")[0].strip()
    head, _, rest = text.partition(".")
    bound = globalns.get(head)
    if bound is not None and inspect.ismodule(bound) and rest:
        found: Any = bound
        for attr in rest.split("."):
            found = getattr(found, attr, None)
        if isinstance(found, type):
            return found, _packagers.type_names(found)
        module, _, name = f"{bound.__name__}.{rest}".rpartition(".")
        return text, [(module, name)]
    if isinstance(bound, type):
        return bound, _packagers.type_names(bound)
    if not rest and isinstance(getattr(builtins, text, None), type):
        cls = getattr(builtins, text)
        return cls, _packagers.type_names(cls)
    module, _, name = text.rpartition(".")
    return text, [(module, name)]


def _candidates(
    annotation: Any, globalns: dict[str, Any]
) -> list[tuple[Any, list[tuple[str, str]]]]:
    """(annotation, MRO names) of each type ``annotation`` allows."""
    for _ in range(3):  # a quoted annotation in a module with postponed annotations: twice
        if not isinstance(annotation, str):
            break
        try:
            annotation = eval(annotation, globalns)
        except Exception:  # noqa: BLE001 - any failure: the class is named from the text
            return [_names_from_text(annotation, globalns)]
    if isinstance(annotation, str):
        return [_names_from_text(annotation, globalns)]
    out = []
    for member in _union_members(annotation):
        cls = getattr(member, "__origin__", member)
        if isinstance(cls, type):
            out.append((member, _packagers.type_names(cls)))
    return out


def _type_label(names: list[tuple[str, str]]) -> str:
    module, name = names[0]
    return name if module == "builtins" else f"{module.split('.')[0]}.{name}"


def _annotations(func: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func)
    except Exception:  # noqa: BLE001 - unresolvable names: each annotation is tried alone
        return dict(getattr(func, "__annotations__", {}))


def _convert(func: Any, param: str, value: str, annotation: Any, packagers: list[Any]) -> Any:
    """``value`` as the type ``annotation`` names, by the first packager that takes it.

    Raises:
        CallError: no packager serves the type, or none can read ``value`` (exit 2).
    """
    if annotation is inspect.Parameter.empty or annotation is Any:
        return value
    where = f"parameter {param!r} of {func.__module__}:{func.__qualname__}"
    options = _candidates(annotation, getattr(func, "__globals__", {}))
    wanted, reasons = [], []
    for member, names in options:
        packager = _packagers.find(packagers, names)
        if packager is None:
            wanted.append(_type_label(names))
            continue
        wanted.append(_packagers.describe(packager, _type_label(names)))
        try:
            return packager.unpack(value, member)
        except Exception as exc:  # noqa: BLE001 - any packager failure: the input is bad
            reasons.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    expected = " or ".join(wanted) or repr(annotation)
    if not reasons:
        raise CallError(
            f"{where}: no packager turns an input into {expected}",
            f"add a packager for it (entry point group {_packagers.ENTRY_POINT_GROUP!r}), "
            "or annotate the parameter with a type pkgtool_call knows",
        )
    raise CallError(
        f"{where}: cannot read {value!r} as {expected}: {reasons[-1]}",
        f"pass --input {param}=VALUE with a value of that type",
    )


def bind(
    func: Any, given: dict[str, str], packagers: list[Any]
) -> tuple[list[Any], dict[str, Any]]:
    """Positional and keyword arguments of ``func`` from the ``--input`` values ``given``.

    Raises:
        CallError: an input names no parameter, a parameter without default has no input,
            an input does not convert (exit 2).
    """
    signature = inspect.signature(func)
    hints = _annotations(func)
    params = signature.parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    named = [p for p in params if params[p].kind not in variadic]
    for name in given:
        if name not in named and not takes_any:
            raise CallError(
                f"--input {name}: {func.__qualname__} has no parameter {name!r}",
                f"its parameters: {', '.join(named) or 'none'}",
            )
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for name, p in params.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if name not in given:
            if p.default is p.empty:
                label = _expected(hints.get(name, p.annotation), func)
                raise CallError(
                    f"missing --input {name} (parameter {name!r} of {func.__qualname__}, "
                    f"expected {label})",
                    f"pass --input {name}=PATH_OR_VALUE",
                )
            continue
        value = _convert(func, name, given[name], hints.get(name, p.annotation), packagers)
        if p.kind is p.POSITIONAL_ONLY:
            args.append(value)
        else:
            kwargs[name] = value
    for name in given:
        if name not in params or params[name].kind is inspect.Parameter.VAR_KEYWORD:
            kwargs[name] = given[name]
    return args, kwargs


def _expected(annotation: Any, func: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return "a value"
    options = _candidates(annotation, getattr(func, "__globals__", {}))
    return " or ".join(_type_label(n) for _, n in options) or repr(annotation)


# ---------------------------------------------------------------------------- main


def _check_hints(hints: list[_hints.LogHint], packagers: list[Any]) -> None:
    """Refuse, before the call, a kind or format no packager knows (exit 2)."""
    kinds = {_hints.RESULT, *ARTIFACT_KINDS, *(p.kind for p in packagers)}
    formats = {f for p in packagers for f in p.formats}
    for hint in hints:
        if hint.kind is not None and hint.kind not in kinds:
            raise CallError(
                f"--returns {hint.name}: unknown kind {hint.kind!r}",
                f"use one of: {', '.join(sorted(kinds))}",
            )
        fmt = hint.option("format")
        if fmt is not None and fmt not in formats:
            raise CallError(
                f"--returns {hint.name}: no packager writes format {fmt!r}",
                f"formats known here: {', '.join(sorted(formats))}",
            )


def _prepare(
    argv: list[str],
) -> tuple[Any, list[Any], dict[str, Any], list[_hints.LogHint], list[Any], str]:
    """Everything checked before the call: (function, args, kwargs, hints, packagers, out)."""
    ns = parser().parse_args(argv)
    module, function = split_target(ns.target)
    given = parse_inputs(ns.input)
    try:
        hints = _hints.parse_returns(ns.returns)
    except _hints.HintError as exc:
        raise CallError(str(exc), "write --returns as 'NAME, NAME: KIND[format=F]'") from None
    try:
        packagers = _packagers.load_packagers()
    except _packagers.PackagerError as exc:
        raise CallError(str(exc), "fix or uninstall the distribution that declares it", 1) from None
    _check_hints(hints, packagers)
    func = _import(module, function)
    args, kwargs = bind(func, given, packagers)
    out = ns.out
    try:
        os.makedirs(out, exist_ok=True)
        if os.path.lexists(os.path.join(out, _outputs.MANIFEST)):
            os.unlink(os.path.join(out, _outputs.MANIFEST))
    except OSError as exc:
        raise CallError(
            f"cannot use --out {out}: {exc.strerror or exc}", "pass a writable directory"
        ) from None
    return func, args, kwargs, hints, packagers, out


def call(argv: list[str]) -> int:
    """Run the command line ``argv`` (without the program name); return the exit status.

    Prints ``error:``/``hint:`` lines (and a function's traceback) on stderr.
    """
    try:
        func, args, kwargs, hints, packagers, out = _prepare(argv)
    except CallError as exc:
        return _fail(exc.message, exc.hint, exc.code)
    except Exception as exc:  # noqa: BLE001 - importing the user's module raised
        traceback.print_exc()
        return _fail(f"importing the function raised {_summary(exc)}", "the traceback is above", 1)
    label = f"{func.__module__}:{func.__qualname__}"
    try:
        returned = func(*args, **kwargs)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)) and not isinstance(exc, Exception):
            raise
        traceback.print_exc()
        summary = _summary(exc)
        return _fail(
            f"{label} raised {summary}", "the traceback is above; no outputs.json was written", 1
        )
    if not hints and returned is not None:
        hints = [_hints.LogHint("return")]
    try:
        values = _outputs.values_for(hints, returned, label)
        manifest = _outputs.write(hints, values, packagers, out, label)
    except _outputs.OutputError as exc:
        return _fail(exc.message, exc.hint, exc.code)
    count = len(manifest["outputs"])
    where = os.path.join(out, _outputs.MANIFEST)
    sys.stderr.write(f"{PROG}: {label}: {count} output{'s' if count != 1 else ''} in {where}\n")
    return 0


def _summary(exc: BaseException) -> str:
    """``Type: first line of the message``."""
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text.strip() else type(exc).__name__


def _fail(message: str, hint: str, code: int) -> int:
    sys.stderr.write(f"{PROG}: error: {message}\n{PROG}: hint: {hint}\n")
    return code


def main() -> None:
    """``python3 -m pkgtool_call``."""
    sys.exit(call(sys.argv[1:]))
