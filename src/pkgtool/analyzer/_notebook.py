"""Turn a Jupyter notebook into the Python source its code cells run, line for line.

A notebook is a JSON document (nbformat v4, https://nbformat.readthedocs.io/en/latest/
format_description.html): ``{"nbformat": 4, "cells": [...]}`` where each cell has a
``cell_type`` (``"code"``, ``"markdown"``, ``"raw"``) and a ``source`` that is a string or
a list of strings to concatenate. nbformat v3 (``worksheets[*].cells``, code in
``input``) is read too. It is parsed with :mod:`json` only; nbformat is not needed.

The *joined source* is the code cells' sources in notebook order, each cell starting on
a new line and followed by one empty line. Every line of a cell keeps its own line in
the joined source, so an import's site is ``notebook.ipynb:N`` with ``N`` the 1-based
line of the joined source, and :meth:`NotebookSource.locate` turns ``N`` back into
``(cell, line)``: the cell's 1-based position among *all* cells of the notebook (what
Jupyter and VS Code show when counting cells) and the 1-based line inside it.

IPython syntax that is not Python (IPython docs, "IPython reference: Command-line
usage"/"Built-in magic commands") is blanked, each such line replaced by ``pass`` at its
indentation so that blocks stay valid and line numbers do not move:

- line magics ``%name ...`` and assignments from them (``x = %name ...``); for
  ``%time STATEMENT`` and ``%timeit STATEMENT`` the statement is kept, since it runs;
- cell magics ``%%name`` on a cell's first line: the whole cell is blanked (its body is
  another language: ``%%bash``, ``%%html``, ``%%writefile`` ...), except for
  ``%%time``, ``%%timeit`` and ``%%capture``, whose body is Python: only the magic line
  is blanked;
- shell escapes ``!cmd``, ``!!cmd`` and ``x = !cmd``;
- help lines ``name?``, ``?name``, ``name??``;
- ``get_ipython()...`` calls (what ``nbconvert --to script`` writes for magics).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pkgtool._files import MAX_NOTEBOOK, MAX_SOURCE, read_regular
from pkgtool.analyzer._scan import ScanError

_PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture"})
_RUNS_STATEMENT = frozenset({"time", "timeit"})
_ASSIGNED_ESCAPE = re.compile(r"^[\w.\[\]\s,()*]+=\s*[!%]")
_LINE_MAGIC = re.compile(r"^%(\w+)\s*(.*)$")
_HELP = re.compile(r"^(\?{1,2}\s*[\w.]+|[\w.()\[\]]+\s*\?{1,2})$")


class NotebookError(ValueError):
    """The file is not a notebook pkgtool can read; ``message`` is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class NotebookSource:
    """A notebook's joined source (see the module docstring).

    ``text`` is the Python text; ``cells`` holds, for each code cell in order,
    ``(first line in text, cell number among all cells)``, both 1-based.
    """

    text: str
    cells: tuple[tuple[int, int], ...]

    def locate(self, line: int) -> tuple[int, int] | None:
        """``(cell number, line in the cell)`` of ``line`` of :attr:`text`, or None
        when ``line`` is one of the empty separator lines or out of range."""
        count = self.text.count("\n")
        if line < 1 or line > count:
            return None
        found: tuple[int, int] | None = None
        for first, cell in self.cells:
            if first <= line:
                found = (cell, line - first + 1)
        if found is None:
            return None
        cell, offset = found
        following = [first for first, _ in self.cells if first > line]
        end = (following[0] if following else count + 1) - 1  # the separator line
        return None if line >= end else (cell, offset)


def read_source(file: Path) -> bytes:
    """The Python source of ``file`` as bytes: a notebook's joined source (UTF-8), else
    the file's bytes.

    Raises:
        OSError: the file cannot be read, is not a regular file or is too large
            (:func:`read_bounded`).
        ScanError: a ``.ipynb`` file that is not a notebook, or whose code is too large.
    """
    return source_of(file, read_bounded(file))


def read_bounded(file: Path) -> bytes:
    """The bytes of the source file or notebook ``file``, a regular file of at most
    :data:`pkgtool._files.MAX_SOURCE` bytes (:data:`~pkgtool._files.MAX_NOTEBOOK` for a
    ``.ipynb``), read without blocking on a FIFO.

    Raises:
        OSError: as :func:`pkgtool._files.read_regular`.
    """
    return read_regular(file, MAX_NOTEBOOK if file.suffix == ".ipynb" else MAX_SOURCE)


def source_of(file: Path, data: bytes) -> bytes:
    """The Python source in ``data``, the bytes of ``file`` (a notebook's joined code).

    Raises:
        ScanError: a ``.ipynb`` file that is not a notebook, or whose code cells hold more
            than :data:`pkgtool._files.MAX_SOURCE` bytes.
    """
    if file.suffix != ".ipynb":
        return data
    try:
        text = read_notebook(data).text.encode("utf-8")
    except NotebookError as exc:
        raise ScanError(None, exc.message) from exc
    if len(text) > MAX_SOURCE:
        raise ScanError(None, f"code cells larger than {MAX_SOURCE // 2**20} MiB")
    return text


def describe_line(file: Path, line: int | None) -> str:
    """``" (cell 3, line 2)"`` for a line of a notebook's joined source, else ``""``."""
    if line is None or file.suffix != ".ipynb":
        return ""
    try:
        where = read_notebook(read_bounded(file)).locate(line)
    except (OSError, NotebookError):
        return ""
    return "" if where is None else f" (cell {where[0]}, line {where[1]})"


def read_notebook(data: bytes) -> NotebookSource:
    """The joined source of a notebook file's bytes.

    Raises:
        NotebookError: not JSON, or not a notebook (no ``cells`` list, nbformat < 3).
    """
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise NotebookError(f"not a notebook: invalid JSON ({exc})") from exc
    cells = _cells(document)
    lines: list[str] = []
    starts: list[tuple[int, int]] = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", cell.get("input", ""))
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if not isinstance(source, str):
            continue
        starts.append((len(lines) + 1, number))
        cell_lines = [line.rstrip("\r") for line in source.split("\n")]
        if cell_lines[-1] == "":
            cell_lines.pop()
        lines.extend(python_lines(cell_lines))
        lines.append("")
    return NotebookSource("".join(f"{line}\n" for line in lines), tuple(starts))


def python_lines(cell: list[str]) -> list[str]:
    """The lines of one code cell with IPython syntax blanked (same number of lines)."""
    first = next((i for i, line in enumerate(cell) if line.strip()), None)
    if first is not None and cell[first].lstrip().startswith("%%"):
        name = cell[first].lstrip()[2:].split(maxsplit=1)
        if not name or name[0] not in _PYTHON_CELL_MAGICS:
            return ["" for _ in cell]
        cell = [*cell[:first], "", *cell[first + 1 :]]
    return [_python_line(line) for line in cell]


def _python_line(line: str) -> str:
    stripped = line.strip()
    indent = line[: len(line) - len(line.lstrip())]
    if not stripped:
        return line
    if stripped.startswith("%"):
        magic = _LINE_MAGIC.match(stripped)
        if magic and magic.group(1) in _RUNS_STATEMENT and magic.group(2)[:1] not in ("", "-"):
            return indent + magic.group(2)
        return f"{indent}pass"
    if (
        stripped.startswith(("!", "get_ipython()"))
        or _ASSIGNED_ESCAPE.match(stripped)
        or (_HELP.match(stripped) and not stripped.startswith("#"))
    ):
        return f"{indent}pass"
    return line


def _cells(document: Any) -> list[Any]:
    if not isinstance(document, dict):
        raise NotebookError("not a notebook: the JSON document is not an object")
    cells = document.get("cells")
    if isinstance(cells, list):
        return cells
    worksheets = document.get("worksheets")  # nbformat v3
    if isinstance(worksheets, list):
        return [
            cell
            for sheet in worksheets
            if isinstance(sheet, dict) and isinstance(sheet.get("cells"), list)
            for cell in sheet["cells"]
        ]
    raise NotebookError(
        f"not a notebook: no 'cells' list (nbformat {document.get('nbformat', '?')!s})"
    )
