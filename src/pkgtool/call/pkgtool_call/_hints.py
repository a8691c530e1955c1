"""Log hints: what ``--returns`` says about each returned value (stdlib only, Python >= 3.8).

A spec is a comma-separated list of hints, MLRun's string shortcut (MLRun docs, "Packagers
overview", "String shortcut")::

    NAME                      the packager's default kind for the value's type
    NAME : KIND               result (into results.json) or an artifact kind (dataset, file)
    NAME : KIND[KEY=VALUE,..] options for the packager, e.g. dataset[format=parquet];
                              a value may be quoted ('parquet' or "parquet")

Commas inside ``[...]`` do not split hints. ``NAME`` is the key in ``results.json`` and the
stem of the artifact's file name, so it is a word of letters, digits, ``_``, ``-`` and ``.``
not starting with ``.`` or ``-``.
"""

from __future__ import annotations

import re

RESULT = "result"
"""The kind of a value written into ``results.json`` rather than as a file."""

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
_KIND = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class HintError(ValueError):
    """A ``--returns`` spec that does not parse; the message names the culprit."""


class LogHint:
    """One returned value: its ``name``, ``kind`` (None: the packager's default) and
    ``options`` (sorted ``(key, value)`` pairs, strings)."""

    __slots__ = ("kind", "name", "options")

    def __init__(
        self, name: str, kind: str | None = None, options: tuple[tuple[str, str], ...] = ()
    ):
        self.name = name
        self.kind = kind
        self.options = options

    def option(self, key: str, default: str | None = None) -> str | None:
        """The value of option ``key``, else ``default``."""
        return dict(self.options).get(key, default)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LogHint):
            return NotImplemented
        return (self.name, self.kind, self.options) == (other.name, other.kind, other.options)

    def __hash__(self) -> int:
        return hash((self.name, self.kind, self.options))

    def __repr__(self) -> str:
        return f"LogHint({self.name!r}, {self.kind!r}, {self.options!r})"


def _split(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside brackets and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if quote or depth:
        raise HintError(f"unbalanced {'quote' if quote else 'brackets'} in {text!r}")
    parts.append(text[start:])
    return parts


def _options(text: str, hint: str) -> tuple[tuple[str, str], ...]:
    found = {}
    for item in _split(text, ","):
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not _KIND.match(key):
            raise HintError(f"option {item.strip()!r} of {hint!r} is not KEY=VALUE")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if not value:
            raise HintError(f"option {key!r} of {hint!r} has no value")
        found[key] = value
    return tuple(sorted(found.items()))


def parse_hint(text: str) -> LogHint:
    """One hint (``NAME``, ``NAME : KIND`` or ``NAME : KIND[K=V,...]``).

    Raises:
        HintError: it does not parse (the message quotes it).
    """
    hint = text.strip()
    name, colon, rest = hint.partition(":")
    name, rest = name.strip(), rest.strip()
    if not _NAME.match(name):
        raise HintError(f"{name!r} in --returns {hint!r} is not a name (letters, digits, _ - .)")
    if not colon:
        return LogHint(name)
    kind, bracket, options = rest.partition("[")
    kind = kind.strip()
    if not _KIND.match(kind):
        raise HintError(f"kind {kind!r} in --returns {hint!r} is not a word")
    if not bracket:
        return LogHint(name, kind)
    if not options.endswith("]"):
        raise HintError(f"options of {hint!r} must end with ']'")
    return LogHint(name, kind, _options(options[:-1], hint))


def parse_returns(specs: list[str]) -> list[LogHint]:
    """The hints of the ``--returns`` values ``specs`` (each a comma-separated list), in order.

    Raises:
        HintError: a hint does not parse, or two hints share a name.
    """
    hints: list[LogHint] = []
    for spec in specs:
        for part in _split(spec, ","):
            if part.strip():
                hints.append(parse_hint(part))
    names = [h.name for h in hints]
    for name in names:
        if names.count(name) > 1:
            raise HintError(f"--returns names {name!r} twice")
    return hints
