"""A JSON form of scan results, so they can be cached and sent between processes.

The scan cache (:mod:`._cache`) may sit in a directory other users share, so its values
are JSON rather than pickle: decoding builds only dataclasses and exceptions defined in
``pkgtool`` modules, never arbitrary objects. The form is generic, so any result a scan
function returns round-trips as long as it is made of:

- ``None``, ``bool``, ``int``, ``float``, ``str``, lists;
- tuples: ``{"t": [...]}``; dicts: ``{"d": [[key, value], ...]}``;
- dataclass instances: ``{"@": "module:QualName", "f": [init field values in order]}``;
- exceptions: ``{"!": "module:QualName", "a": [args], "s": {"d": [attributes]}}``.

Every JSON object is one of these tags, so a decoded value equals the encoded one
(``decode(encode(x)) == x``). The layout is part of the cache key
(:data:`._cache.CACHE_FORMAT`).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from typing import Any

_ALLOWED_PREFIX = "pkgtool."


class CodecError(ValueError):
    """A value cannot be encoded, or a text is not a valid encoding."""


def encode(value: object) -> str:
    """The JSON text (ASCII only) of ``value``. Raises CodecError if it has no JSON form."""
    try:
        return json.dumps(_plain(value), separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise CodecError(f"cannot encode: {exc}") from exc


def decode(text: str) -> Any:
    """The value :func:`encode` produced ``text`` from. Raises CodecError if invalid."""
    try:
        return json.loads(text, object_hook=_revive)
    except CodecError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, ImportError) as exc:
        raise CodecError(f"invalid cached value: {exc}") from exc


def _plain(value: object) -> object:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"t": [_plain(v) for v in value]}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {"d": [[_plain(k), _plain(v)] for k, v in value.items()]}
    cls = type(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [f.name for f in dataclasses.fields(value) if f.init]
        return {"@": _class_name(cls), "f": [_plain(getattr(value, n)) for n in fields]}
    if isinstance(value, BaseException):
        state = _plain(dict(vars(value)))
        return {"!": _class_name(cls), "a": [_plain(a) for a in value.args], "s": state}
    raise TypeError(f"{cls.__qualname__} has no JSON form")


def _class_name(cls: type) -> str:
    name = f"{cls.__module__}:{cls.__qualname__}"
    if not cls.__module__.startswith(_ALLOWED_PREFIX) or "<" in cls.__qualname__:
        raise TypeError(f"{name} is not a pkgtool class")
    return name


_CLASSES: dict[str, type] = {}


def _lookup(name: str) -> type:
    """The class ``module:QualName``, only from ``pkgtool`` modules."""
    cls = _CLASSES.get(name)
    if cls is None:
        module, _, qualname = name.partition(":")
        if not module.startswith(_ALLOWED_PREFIX):
            raise CodecError(f"refusing to build {name}")
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
        if not isinstance(found, type):
            raise CodecError(f"{name} is not a class")
        cls = _CLASSES[name] = found
    return cls


_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _plain_fields(cls: type) -> tuple[str, ...] | None:
    """The field names of a dataclass whose ``__init__`` only stores its arguments
    (every field in ``__init__``, no ``__post_init__``, no slots), else None.

    Raises CodecError if ``cls`` is not a dataclass.
    """
    if cls not in _FIELDS:
        if not dataclasses.is_dataclass(cls):
            raise CodecError(f"{cls.__qualname__} is not a dataclass")
        fields = dataclasses.fields(cls)
        simple = (
            all(f.init for f in fields)
            and not hasattr(cls, "__post_init__")
            and not hasattr(cls, "__slots__")
        )
        _FIELDS[cls] = tuple(f.name for f in fields) if simple else None
    return _FIELDS[cls]


def _revive(obj: dict[str, Any]) -> object:
    """json ``object_hook``: called innermost first, so members are already decoded."""
    if "t" in obj:
        return tuple(obj["t"])
    if "@" in obj:
        cls = _lookup(obj["@"])
        names = _plain_fields(cls)
        if names is None:
            return cls(*obj["f"])
        if len(names) != len(obj["f"]):
            raise CodecError(f"{obj['@']}: {len(obj['f'])} fields for {len(names)}")
        value: Any = object.__new__(cls)  # what __init__ would do, 3x faster if frozen
        vars(value).update(zip(names, obj["f"], strict=True))
        return value
    if "d" in obj:
        return {k: v for k, v in obj["d"]}
    if "!" in obj:
        cls = _lookup(obj["!"])
        if not issubclass(cls, BaseException):
            raise CodecError(f"{obj['!']} is not an exception")
        exc = cls.__new__(cls)
        exc.args = tuple(obj["a"])
        vars(exc).update(obj["s"])
        return exc
    raise CodecError(f"unknown JSON object {sorted(obj)}")
