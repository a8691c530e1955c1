"""Which top-level module names belong to the standard library of a target Python.

The table ``data/stdlib.json`` maps ``"X.Y"`` (3.8 to 3.14) to the sorted list of
top-level standard-library module names, private ones (``_thread``) included. For 3.10
to 3.13 it is ``sys.stdlib_module_names`` of those interpreters; 3.8 and 3.9 (which have
no such attribute) and 3.14 are derived from the neighbouring lists with the additions
and removals listed in each "What's New in Python X.Y" (PEP 594 removed ``distutils``,
``imp``, ``asynchat``, ``asyncore`` and ``smtpd`` in 3.12 and twenty "dead batteries"
in 3.13; 3.9 added ``zoneinfo`` and ``graphlib``; 3.10 removed ``formatter``,
``parser`` and ``symbol``; 3.11 added ``tomllib`` and removed ``binhex``; 3.14 added
``annotationlib`` and ``compression``). ``__main__`` is treated as standard too.

``data/stdlib-legacy.json`` holds the same lists for CPython 2.7 and 3.2 to 3.7, from
stdlib-list 0.12.0 (which reads each version's library reference). A name in any list,
2.7 to 3.14 (:func:`any_stdlib`), is never a distribution: ``urllib2``, ``cPickle``,
``ConfigParser`` or ``tomllib`` under another target are reported
(:func:`describe_foreign`), not emitted.
"""

from __future__ import annotations

import json
import re
import sys
from functools import cache
from importlib import resources

from pkgtool.errors import UsageError

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)$")

# Modules a script-directory file can never shadow: the ones in sys.modules before the
# script runs (interpreter start-up, CPython 3.8-3.13 with ``-I``), plus the built-in
# modules, which BuiltinImporter finds before any sys.path entry is searched.
_STARTUP = frozenset(
    {
        "__main__",
        "_abc",
        "_bootlocale",
        "_codecs",
        "_collections_abc",
        "_frozen_importlib",
        "_frozen_importlib_external",
        "_imp",
        "_io",
        "_locale",
        "_signal",
        "_sitebuiltins",
        "_stat",
        "_thread",
        "_warnings",
        "_weakref",
        "abc",
        "builtins",
        "codecs",
        "encodings",
        "genericpath",
        "io",
        "marshal",
        "os",
        "posix",
        "posixpath",
        "site",
        "stat",
        "sys",
        "time",
        "zipimport",
    }
)


@cache
def _table() -> dict[str, frozenset[str]]:
    text = resources.files("pkgtool.analyzer").joinpath("data/stdlib.json").read_text("utf-8")
    raw: dict[str, list[str]] = json.loads(text)
    return {version: frozenset(names) for version, names in raw.items()}


@cache
def _legacy() -> dict[str, frozenset[str]]:
    text = (
        resources.files("pkgtool.analyzer").joinpath("data/stdlib-legacy.json").read_text("utf-8")
    )
    raw = json.loads(text)
    if raw.get("format") != 1:
        raise ValueError("analyzer/data/stdlib-legacy.json: unsupported format")
    return {version: frozenset(names) for version, names in raw["versions"].items()}


@cache
def any_stdlib() -> frozenset[str]:
    """Every top-level standard-library module name of CPython 2.7 and 3.2 to 3.14."""
    return frozenset().union(*_table().values(), *_legacy().values())


def describe_foreign(name: str, version: tuple[int, int]) -> str | None:
    """Why the top-level ``name`` is not imported from a distribution although the target
    ``version`` lacks it: ``"Python 2 module"`` (only in 2.7), ``"standard library of
    Python 3.11+, not of 3.10"`` and the like; None when ``name`` is in the target's
    standard library or in no CPython's."""
    if name in stdlib_modules(version) or name not in any_stdlib():
        return None
    target = f"{version[0]}.{version[1]}"
    threes = [v for v in (*_legacy(), *_table()) if v.startswith("3.") and name in _names(v)]
    if not threes:
        return f"Python 2 module, not in Python {target}'s standard library"
    keys = sorted(threes, key=lambda v: tuple(int(p) for p in v.split(".")))
    return f"standard library of Python {keys[0]} to {keys[-1]}, not of {target}"


def _names(version: str) -> frozenset[str]:
    return _table().get(version) or _legacy().get(version) or frozenset()


def supported_versions() -> tuple[str, ...]:
    """The ``"X.Y"`` versions the table knows, oldest first (``("3.8", ..., "3.14")``)."""
    return tuple(sorted(_table(), key=lambda v: tuple(int(p) for p in v.split("."))))


def running_version() -> str:
    """The ``"X.Y"`` version of the interpreter running pkgtool."""
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def parse_version(text: str | None) -> tuple[int, int]:
    """Validate a target version ``"X.Y"`` and return ``(X, Y)``.

    ``None`` means the running interpreter's version. Versions newer than the newest in
    the table are accepted (they use the newest list); older than 3.8 are refused.

    Raises:
        UsageError: ``text`` is not ``X.Y`` or names a Python older than the table.
    """
    if text is None:
        return (sys.version_info[0], sys.version_info[1])
    match = _VERSION_RE.match(text.strip())
    oldest = supported_versions()[0]
    hint = f"give the target Python as MAJOR.MINOR, {oldest} or newer (e.g. 3.11)"
    if match is None:
        raise UsageError(f"invalid Python version {text!r}", hint=hint)
    version = (int(match.group(1)), int(match.group(2)))
    if version < tuple(int(p) for p in oldest.split(".")) or version[0] != 3:
        raise UsageError(f"unsupported Python version {text!r}", hint=hint)
    return version


def stdlib_modules(version: tuple[int, int]) -> frozenset[str]:
    """Top-level standard-library module names of Python ``version`` (``(3, 11)``)."""
    table = _table()
    key = f"{version[0]}.{version[1]}"
    if key not in table:
        key = supported_versions()[-1]
    return table[key] | {"__main__"}


def never_shadowed(name: str) -> bool:
    """True if a file ``name.py`` next to the script cannot hide the stdlib ``name``.

    Built-in modules (``sys.builtin_module_names``) are found before ``sys.path`` is
    searched, and start-up modules (``os``, ``io``...) are already in ``sys.modules``.
    Every other standard module *is* shadowed by a same-named file in the script's
    directory, which is sys.path[0] (Python tutorial, "The Module Search Path").
    """
    return name in _STARTUP or name in sys.builtin_module_names
