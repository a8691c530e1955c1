"""Tell from a file's bytes, without parsing, where imports can be and which kinds.

:mod:`._scan` finds ``__import__("x")`` and ``importlib.import_module("x")`` by walking
every expression node of the tree, which costs about twice the parse itself
(``cProfile`` over the 2,937 files of a virtual environment's ``site-packages``: 15 s
of 21 s in ``_dynamic_sites``). Only files whose text names ``__import__`` or
``import_module`` can hold such a call, and about 3 % of real files do, so the walk is
skipped for the others.

The byte search is exact for ASCII text without a coding cookie. Otherwise the text is
decoded as Python would (PEP 263 cookie, UTF-8 by default, BOM) and NFKC-normalized,
because identifiers are compared in NFKC form (PEP 3131: ``ｉmport_module`` is
``import_module``) and an encoding such as UTF-7 may spell ``_`` as ``+AF8-``.

:func:`candidate_lines` lists the lines where an import or an ``__all__`` can be, so
that :mod:`._scan` descends only into the blocks spanning one of them: most function
bodies hold no import, and visiting their statements cost :func:`._scan.scan_tree` a
third of the parse time. A keyword cannot be spelled with other characters (``ｉmport``
is a syntax error), but an identifier can (PEP 3131), so lines with non-ASCII bytes are
candidates too.
"""

from __future__ import annotations

import io
import re
import tokenize
import unicodedata
from collections.abc import Iterator

_NEEDLES = ("__import__", "import_module")
_BYTE_NEEDLES = tuple(n.encode("ascii") for n in _NEEDLES)
_NON_ASCII = re.compile(rb"[\x80-\xff]+")


def may_import_dynamically(source: bytes) -> bool:
    """False only if ``source`` (a file's bytes) cannot name a dynamic-import function.

    True when unsure (undecodable text, unknown codec): the caller then does the full
    search, so a True answer is never wrong, only slower.
    """
    if any(needle in source for needle in _BYTE_NEEDLES):
        return True
    if source.isascii() and b"coding" not in _head(source):
        return False
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        text = source.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        return True
    text = unicodedata.normalize("NFKC", text)
    return any(needle in text for needle in _NEEDLES)


def candidate_lines(source: bytes) -> list[int] | None:
    """The 1-based lines of ``source`` that may hold (part of) an import statement, a
    dynamic import or an ``__all__``, ascending; None when that cannot be told from the
    bytes (a coding cookie, or ``\\r`` line ends, which Python counts as lines too).

    Every import statement has its ``import`` keyword on one of these lines.
    """
    if b"\r" in source or b"coding" in _head(source):
        return None
    starts = [*_find_all(source, b"import"), *_find_all(source, b"__all__")]
    if not source.isascii():
        starts.extend(m.start() for m in _NON_ASCII.finditer(source))
    lines: list[int] = []
    line, pos = 1, 0
    for start in sorted(starts):
        line += source.count(b"\n", pos, start)
        pos = start
        if not lines or lines[-1] != line:
            lines.append(line)
    return lines


def _find_all(source: bytes, needle: bytes) -> Iterator[int]:
    """Offsets of ``needle`` in ``source`` (bytes.find: far faster than a regex here)."""
    start = source.find(needle)
    while start >= 0:
        yield start
        start = source.find(needle, start + len(needle))


def _head(source: bytes) -> bytes:
    """The first two lines, where a PEP 263 coding cookie must be."""
    first = source.find(b"\n")
    second = source.find(b"\n", first + 1) if first >= 0 else -1
    return source if second < 0 else source[:second]
