"""Write a call's return values by their log hints: results, artifacts, the manifest last."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from . import _hints, _packagers

FORMAT = 1
MANIFEST = "outputs.json"
RESULTS = "results.json"


class OutputError(Exception):
    """A return value that cannot be written; ``code`` 2 when ``--returns`` does not fit the
    value, 1 when writing failed."""

    def __init__(self, message: str, hint: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


def values_for(hints: list[_hints.LogHint], returned: Any, label: str) -> list[Any]:
    """The value of each hint: the return value, or each item of a returned tuple when
    several hints are given.

    Raises:
        OutputError: several hints and not a tuple of as many items (exit 2).
    """
    if len(hints) <= 1:
        return [returned] * len(hints)
    if not isinstance(returned, tuple) or len(returned) != len(hints):
        got = (
            f"a tuple of {len(returned)}"
            if isinstance(returned, tuple)
            else f"a {type(returned).__name__}"
        )
        raise OutputError(
            f"--returns names {len(hints)} values but {label} returned {got}",
            "name one log hint per returned item, in order",
            2,
        )
    return list(returned)


def _sha256(path: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest(), os.path.getsize(path)


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary name in the same directory."""
    tmp = os.path.join(
        os.path.dirname(path) or ".", f".{os.path.basename(path)}.{os.getpid()}.part"
    )
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _artifact(hint: _hints.LogHint, value: Any, packager: Any, out: str) -> str:
    """Write ``value`` as ``out/NAME.FORMAT``; return the file name."""
    fmt = hint.option("format")
    if fmt is None:
        suffix = packager.suffix(value) if hasattr(packager, "suffix") else ""
        suffix = suffix or (f".{packager.formats[0]}" if packager.formats else "")
    elif fmt not in packager.formats:
        known = ", ".join(packager.formats) or "none"
        raise OutputError(
            f"--returns {hint.name}: {packager.name} writes no {fmt!r} (formats: {known})",
            "pick one of its formats",
            2,
        )
    else:
        suffix = f".{fmt}"
    name = hint.name + suffix
    partial = os.path.join(out, f".{hint.name}.{os.getpid()}.part{suffix}")
    try:
        packager.pack(value, partial, dict(hint.options))
        os.replace(partial, os.path.join(out, name))
    except Exception as exc:
        if os.path.exists(partial):
            os.unlink(partial)
        raise OutputError(
            f"cannot write {hint.name} as {name}: {type(exc).__name__}: {exc}",
            "see the packager's message; a format may need a package the environment lacks",
            1,
        ) from exc
    return name


def _result_value(hint: _hints.LogHint, value: Any, packager: Any) -> Any:
    if packager is not None and hasattr(packager, "result"):
        value = packager.result(value)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise OutputError(
            f"--returns {hint.name}: a {type(value).__name__} is not a result ({exc})",
            f"give it an artifact kind: --returns '{hint.name}: file'",
            2,
        ) from None
    return value


def write(
    hints: list[_hints.LogHint], values: list[Any], packagers: list[Any], out: str, label: str
) -> dict[str, Any]:
    """Write ``values`` by ``hints`` into ``out``; the manifest last. Returns the manifest.

    Raises:
        OutputError: a value cannot be written as its hint says.
    """
    results: dict[str, Any] = {}
    outputs: list[dict[str, Any]] = []
    for hint, value in zip(hints, values):
        packager = _packagers.find(packagers, _packagers.type_names(type(value)))
        kind = hint.kind or (packager.kind if packager is not None else _hints.RESULT)
        if kind == _hints.RESULT:
            results[hint.name] = _result_value(hint, value, packager)
            outputs.append({"name": hint.name, "kind": kind, "path": RESULTS})
            continue
        if packager is None:
            raise OutputError(
                f"--returns {hint.name}: no packager writes a {type(value).__name__}",
                f"add a packager (entry point group {_packagers.ENTRY_POINT_GROUP!r}) "
                "or return a type pkgtool_call knows",
                2,
            )
        name = _artifact(hint, value, packager, out)
        digest, size = _sha256(os.path.join(out, name))
        outputs.append(
            {"name": hint.name, "kind": kind, "path": name, "sha256": digest, "size": size}
        )
    if results:
        write_atomic(
            os.path.join(out, RESULTS),
            (json.dumps(results, indent=2, sort_keys=True) + "\n").encode(),
        )
        digest, size = _sha256(os.path.join(out, RESULTS))
        for entry in outputs:
            if entry["path"] == RESULTS:
                entry.update(sha256=digest, size=size)
    manifest = {"format": FORMAT, "function": label, "outputs": outputs}
    write_atomic(os.path.join(out, MANIFEST), (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest
