"""pip requirements files (``requirements.txt``), read as pip reads them, or refused.

pip's format (pip docs, "Requirements File Format"): one requirement per line, ``#``
comments (at the start of a line or after whitespace), a trailing ``\\`` joins the next
line, and options. pkgtool honours what it can and refuses the rest, naming the file, the
line number and the line (exit 3); nothing is dropped silently:

- ``-r FILE`` / ``--requirement FILE`` is followed, ``FILE`` relative to the directory of
  the file that names it (as pip does). Includes may nest :data:`MAX_DEPTH` deep; a file
  that includes itself, directly or not, is a loop and refused; a file reached twice by
  different paths is read once. Each file is bounded and must be a regular file
  (:data:`pkgtool._files.MAX_SPEC`). A URL is refused (pkgtool reads no spec from the
  network).
- ``-c FILE`` / ``--constraint FILE`` is followed the same way; its lines are constraints
  (PEP 508, without extras, as pip requires): they limit the versions the pip layer's
  resolution may pick (uv and pip both get them as a constraints file) and add no
  requirement. In a constraints file, ``-r`` and ``-c`` both name more constraints.
- Every other option (``-e``/``--editable``, ``-i``/``--index-url``, ``--extra-index-url``,
  ``--no-index``, ``-f``/``--find-links``, ``--pre``, ``--only-binary``, ``--no-binary``,
  ``--prefer-binary``, ``--trusted-host``, ``--require-hashes``, per-requirement ``--hash``,
  ``--config-settings``...) is refused: pkgtool resolves from the index pip's configuration
  names and locks the sha256 of what it picked itself.
- ``${VAR}``, which pip expands from the environment, is refused (the archive would depend on
  the build host's environment).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from pkgtool._files import MAX_SPEC, read_input
from pkgtool.errors import SpecError

MAX_DEPTH = 8
"""How deep ``-r`` includes may nest (the top file is depth 0)."""

_INCLUDE = ("-r", "--requirement")
_CONSTRAINT = ("-c", "--constraint")
_HINT = "each line must be a PEP 508 requirement, -r FILE or -c FILE (see `man pkg-create`, SPEC)"
_READ_HINT = "pass a regular requirements file (see `man pkg-create`, section SPEC)"


@dataclass
class _Reader:
    """The requirements and constraints of one top file and the files it includes."""

    requirements: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    done: set[tuple[str, bool]] = field(default_factory=set)


def read_requirements(path: Path, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(requirements, constraints)``: the PEP 508 requirements of the requirements file
    ``path`` (whose decoded content is ``text``) and of the files it includes with ``-r``,
    and the constraints of the files included with ``-c``; in order, each once.

    Raises:
        SpecError: a line pkgtool cannot honour or parse, an include loop, includes nested
            deeper than :data:`MAX_DEPTH` (message: ``file: line N: 'line': reason``).
        InputError: an included file cannot be read, is not a regular file or is too large.
    """
    reader = _Reader()
    _read(reader, path, text, (os.path.realpath(path),), False)
    return tuple(reader.requirements), tuple(reader.constraints)


def _read(
    reader: _Reader, path: Path, text: str, stack: tuple[str, ...], constraints: bool
) -> None:
    reader.done.add((stack[-1], constraints))
    problems: list[str] = []
    for lineno, line in _logical_lines(text):
        where = f"line {lineno}: {line!r}"
        if "${" in line:
            problems.append(f"{where}: environment variables (${{...}}) are not expanded")
            continue
        option, _, value = _split_option(line)
        if option in _INCLUDE or option in _CONSTRAINT:
            _include(reader, path, value, stack, where, constraints or option in _CONSTRAINT)
        elif option:
            problems.append(f"{where}: pip option {option} is not supported by pkgtool")
        else:
            problems.extend(_requirement(reader, line, where, constraints))
    if problems:
        raise SpecError(problems, str(path), hint=_HINT)


def _requirement(reader: _Reader, line: str, where: str, constraint: bool) -> list[str]:
    text, sep, rest = line.partition(" --")
    if sep:
        option = "--" + rest.split("=", 1)[0].split()[0]
        return [f"{where}: pip option {option} is not supported by pkgtool"]
    try:
        parsed = Requirement(text)
    except InvalidRequirement as exc:
        return [f"{where}: invalid requirement: {exc}"]
    if constraint and parsed.extras:
        return [f"{where}: a constraint cannot name extras (pip refuses them too)"]
    found = reader.constraints if constraint else reader.requirements
    if text not in found:
        found.append(text)
    return []


def _include(
    reader: _Reader, path: Path, value: str, stack: tuple[str, ...], where: str,
    constraints: bool,
) -> None:  # fmt: skip
    if not value:
        raise SpecError([f"{where}: needs a file name"], str(path), hint=_HINT)
    if "://" in value:
        raise SpecError([f"{where}: requirements from a URL are not read"], str(path), hint=_HINT)
    target = path.parent / value
    real = os.path.realpath(target)
    if real in stack:
        raise SpecError([f"{where}: includes itself (a loop of -r)"], str(path), hint=_HINT)
    if len(stack) > MAX_DEPTH:
        raise SpecError([f"{where}: -r nested more than {MAX_DEPTH} deep"], str(path), hint=_HINT)
    if (real, constraints) in reader.done:
        return
    data = read_input(target, "requirements file", MAX_SPEC, _READ_HINT)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            [f"not a text file (no UTF-8 at byte {exc.start})"], str(target), hint=_READ_HINT
        ) from exc
    _read(reader, target, text, (*stack, real), constraints)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """``(first line number, line)`` of ``text`` with comments removed, continuations
    (a trailing backslash) joined and blank lines dropped, as pip reads them."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = lineno
        line = _strip_comment(raw)
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        joined = " ".join(" ".join([*pending, line]).split())
        pending = []
        if joined:
            out.append((start, joined))
    if pending:
        joined = " ".join(" ".join(pending).split())
        if joined:
            out.append((start, joined))
    return out


def _strip_comment(line: str) -> str:
    """``line`` without its comment: from a ``#`` at the start or after whitespace."""
    for i, ch in enumerate(line):
        if ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def _split_option(line: str) -> tuple[str, str, str]:
    """``("-r", " ", "base.txt")`` for an option line (``-r base.txt``, ``-rbase.txt``,
    ``--requirement=base.txt``), ``("", "", line)`` for a requirement."""
    if not line.startswith("-"):
        return "", "", line
    if line.startswith("--"):
        name, _, value = line.replace("=", " ", 1).partition(" ")
        return name, " ", value.strip()
    name, value = line[:2], line[2:].strip()
    return name, " ", value.lstrip("=").strip()
