"""Packagers: turn an input (a path or a literal) into the type a parameter's annotation
names, and a returned value into a file (stdlib only, Python >= 3.8; pandas, numpy and yaml
are imported by the packager that needs them, when it needs them).

A packager is any object with these attributes (a class is instantiated without arguments):

``name``
    short name, used in messages.
``types``
    the types it serves, as ``"package.Class"`` strings (``"pandas.DataFrame"``); a type
    matches when it or one of its bases has that class name and its module is ``package``
    or below it.
``formats``
    file suffixes it reads and writes, without the dot (``("parquet", "csv")``); the first
    is the default when writing. Empty for literals.
``kind``
    the kind a returned value gets when ``--returns`` names none: ``"result"`` (a value in
    ``results.json``) or an artifact kind (``"dataset"``, ``"file"``).
``unpack(value, annotation)``
    the object for the text ``value`` given with ``--input`` (a path for file formats);
    raises ``ValueError`` or ``OSError`` saying why it cannot (the call then exits 2 before
    the function runs).
``pack(obj, path, options)``
    writes ``obj`` to ``path`` (a str ending in ``.<format>``); ``options`` are the log
    hint's ``[key=value]`` pairs (a dict of str).
``result(obj)`` (optional)
    the JSON value written into ``results.json`` for kind ``result`` (default: ``obj``).

User packagers are found through the environment's entry point group ``pkgtool.packagers``
and are tried before the built-in ones.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

ENTRY_POINT_GROUP = "pkgtool.packagers"


def _suffix(value: str) -> str:
    return os.path.splitext(value)[1][1:].lower()


def _existing_file(value: str) -> str:
    if not os.path.isfile(value):
        raise ValueError(
            f"{value!r} is not a file" if os.path.exists(value) else f"no file {value!r}"
        )
    return value


def _check_format(value: str, formats: tuple[str, ...]) -> str:
    suffix = _suffix(value)
    if suffix not in formats:
        raise ValueError(f"{value!r} is not a {'/'.join('.' + f for f in formats)} file")
    return suffix


class DataFramePackager:
    name = "pandas"
    types = ("pandas.DataFrame",)
    formats = ("parquet", "csv", "feather")
    kind = "dataset"

    def unpack(self, value: str, annotation: object) -> Any:
        fmt = _check_format(_existing_file(value), self.formats)
        import pandas

        reader = {
            "parquet": pandas.read_parquet,
            "csv": pandas.read_csv,
            "feather": pandas.read_feather,
        }[fmt]
        return reader(value)

    def pack(self, obj: Any, path: str, options: dict[str, str]) -> None:
        fmt = _suffix(path)
        if fmt == "csv":
            obj.to_csv(path, index=False)
        elif fmt == "feather":
            obj.reset_index(drop=True).to_feather(path)
        else:
            obj.to_parquet(path, index=False)


class ArrayPackager:
    name = "numpy"
    types = ("numpy.ndarray",)
    formats = ("npy", "npz")
    kind = "file"

    def unpack(self, value: str, annotation: object) -> Any:
        fmt = _check_format(_existing_file(value), self.formats)
        import numpy

        loaded = numpy.load(value, allow_pickle=False)
        if fmt == "npy":
            return loaded
        with loaded:
            names = list(loaded.files)
            if len(names) != 1:
                raise ValueError(
                    f"{value!r} holds {len(names)} arrays ({', '.join(names)}), not one"
                )
            return loaded[names[0]]

    def pack(self, obj: Any, path: str, options: dict[str, str]) -> None:
        import numpy

        if _suffix(path) == "npz":
            numpy.savez_compressed(path, **{options.get("key", "array"): obj})
        else:
            numpy.save(path, obj, allow_pickle=False)


class MappingPackager:
    """dict and list from .json/.yaml files, or inline JSON (``--input opts={"a": 1}``)."""

    name = "json/yaml"
    types = ("builtins.dict", "builtins.list")
    formats = ("json", "yaml", "yml")
    kind = "result"

    def unpack(self, value: str, annotation: object) -> Any:
        want = _origin(annotation)
        if value.lstrip()[:1] in ("{", "["):
            data = json.loads(value)
        else:
            fmt = _check_format(_existing_file(value), self.formats)
            with open(value, encoding="utf-8") as fh:
                if fmt == "json":
                    data = json.load(fh)
                else:
                    import yaml

                    data = yaml.safe_load(fh)
        if want in (dict, list) and not isinstance(data, want):
            raise ValueError(f"{value!r} holds a {type(data).__name__}, not a {want.__name__}")
        return data

    def pack(self, obj: Any, path: str, options: dict[str, str]) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            if _suffix(path) == "json":
                json.dump(obj, fh, indent=2, sort_keys=True)
                fh.write("\n")
            else:
                import yaml

                yaml.safe_dump(obj, fh, sort_keys=True)


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class LiteralPackager:
    """str, int, float and bool from the text given; as a file: the text of the value."""

    name = "literal"
    types = ("builtins.bool", "builtins.int", "builtins.float", "builtins.str")
    formats = ("txt",)
    reads_files = False
    kind = "result"

    def unpack(self, value: str, annotation: object) -> Any:
        want = _origin(annotation)
        if want is bool:
            if value.lower() in _TRUE:
                return True
            if value.lower() in _FALSE:
                return False
            raise ValueError(f"{value!r} is not one of {', '.join(_TRUE + _FALSE)}")
        if want is int:
            return int(value, 10)
        if want is float:
            return float(value)
        return value

    def pack(self, obj: Any, path: str, options: dict[str, str]) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(f"{obj}\n")


class PathPackager:
    """pathlib.Path: the path as given (not checked); a returned path is copied."""

    name = "path"
    types = ("pathlib.PurePath",)
    formats = ()
    kind = "file"

    def unpack(self, value: str, annotation: object) -> Any:
        import pathlib

        if not value:
            raise ValueError("an empty path")
        return pathlib.Path(value)

    def pack(self, obj: Any, path: str, options: dict[str, str]) -> None:
        shutil.copyfile(os.fspath(obj), path)

    def suffix(self, obj: Any) -> str:
        """The artifact keeps the suffix of the file it copies."""
        return str(os.path.splitext(os.fspath(obj))[1])

    def result(self, obj: Any) -> Any:
        return os.fspath(obj)


class BytesPackager:
    name = "bytes"
    types = ("builtins.bytes", "builtins.bytearray")
    formats = ("bin",)
    kind = "file"

    def unpack(self, value: str, annotation: object) -> Any:
        with open(_existing_file(value), "rb") as fh:
            return fh.read()

    def pack(self, obj: Any, path: str, options: dict[str, str]) -> None:
        with open(path, "wb") as fh:
            fh.write(bytes(obj))

    def result(self, obj: Any) -> Any:
        return bytes(obj).decode("utf-8", "backslashreplace")


BUILTIN = (
    DataFramePackager,
    ArrayPackager,
    MappingPackager,
    LiteralPackager,
    PathPackager,
    BytesPackager,
)
"""The built-in packagers, in the order they are tried (after the user's)."""


def _origin(annotation: object) -> Any:
    """``dict`` for ``dict[str, int]`` and ``typing.Dict[...]``, the annotation otherwise."""
    return getattr(annotation, "__origin__", annotation)


class PackagerError(Exception):
    """A user packager that cannot be loaded or lacks the interface (exit 1)."""


def _entry_points() -> list[Any]:
    from importlib import metadata

    found = metadata.entry_points()
    if hasattr(found, "select"):  # Python >= 3.10
        return sorted(found.select(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    return sorted(found.get(ENTRY_POINT_GROUP, ()), key=lambda e: e.name)  # Python 3.8/3.9: a dict


def load_packagers() -> list[Any]:
    """The user's packagers (entry point group ``pkgtool.packagers``, by entry point name),
    then the built-in ones.

    Raises:
        PackagerError: an entry point does not load or lacks an attribute of the interface.
    """
    packagers = []
    for ep in _entry_points():
        try:
            obj = ep.load()
            packager = obj() if isinstance(obj, type) else obj
        except Exception as exc:
            raise PackagerError(
                f"packager entry point {ep.name!r} ({ep.value}) does not load: {exc}"
            ) from exc
        missing = [
            a
            for a in ("name", "types", "formats", "kind", "unpack", "pack")
            if not hasattr(packager, a)
        ]
        if missing:
            raise PackagerError(
                f"packager entry point {ep.name!r} ({ep.value}) lacks {', '.join(missing)}"
            )
        packagers.append(packager)
    return packagers + [cls() for cls in BUILTIN]


def type_names(cls: type) -> list[tuple[str, str]]:
    """(module, class name) of ``cls`` and of its bases, nearest first."""
    return [(getattr(c, "__module__", ""), c.__name__) for c in getattr(cls, "__mro__", (cls,))]


def serves(packager: Any, names: list[tuple[str, str]]) -> bool:
    """Whether ``packager`` serves a type with the MRO ``names`` (see :func:`type_names`)."""
    for module, name in names:
        for served in packager.types:
            package, _, cls_name = served.rpartition(".")
            if cls_name == name and (module == package or module.startswith(package + ".")):
                return True
    return False


def find(packagers: list[Any], names: list[tuple[str, str]]) -> Any:
    """The first packager that serves the nearest class of ``names``, or None."""
    for module, name in names:
        for packager in packagers:
            if serves(packager, [(module, name)]):
                return packager
    return None


def describe(packager: Any, type_name: str) -> str:
    """``pandas.DataFrame (from .parquet/.csv/.feather)``, or ``int`` for a literal."""
    reads_files = getattr(packager, "reads_files", True)
    formats = "/".join("." + f for f in packager.formats) if reads_files else ""
    return f"{type_name} (from {formats})" if formats else type_name
