"""Recover the imports of a file that does not parse, from its tokens.

Python 2 code (``print "x"``, ``except E, e:``), a half-edited file or a stray syntax
error stop :func:`ast.parse` but rarely the tokenizer (:mod:`tokenize`, which follows
the lexical analysis of the language reference, chapter 2). The statements that start a
logical line (or follow ``;``, or the ``:`` of a one-line compound statement) are read
from the tokens:

- ``import a.b [as c], d`` (language reference 7.11);
- ``from [.]*a.b import x [as y], (z, w)`` and ``from . import *`` (PEP 328 levels).

A tokenizer error stops one run; reading restarts on the line after the one that
failed, or after the first line of the statement it failed in (an unclosed bracket
would swallow the rest of the file), or on the same line after an indentation error.

Indentation gives the block structure: an import inside a ``try:`` whose ``except``
clauses catch ``ImportError`` (or a parent, or everything) is optional, so is one under
an ``if`` (or its ``else``) whose test :mod:`._conditions` decides is never taken on the
target; imports in ``def``/``class`` bodies get their enclosing function names, as in
:mod:`._scan`. Dynamic imports (``importlib.import_module``) are not recovered.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass

from pkgtool.analyzer._conditions import _IMPORT_ERRORS, Target, static_truth
from pkgtool.analyzer._scan import ImportSite

_SKIP = frozenset(
    {
        tokenize.NL,
        tokenize.COMMENT,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENCODING,
        tokenize.ENDMARKER,
    }
)
_COMPOUND = frozenset(
    {"if", "elif", "else", "try", "except", "finally", "for", "while", "with", "def", "class"}
)


@dataclass(frozen=True)
class _Statement:
    """One simple statement or compound-statement header.

    ``col`` orders nesting: twice the column of its first token, plus one for a body
    written on its header's line (``try: import x``), so that body nests in the header.
    """

    col: int
    tokens: tuple[tokenize.TokenInfo, ...]

    @property
    def keyword(self) -> str:
        first = self.tokens[0].string
        if first == "async" and len(self.tokens) > 1:
            return self.tokens[1].string
        return first


# What CPython 3's parser says about Python 2 syntax (its messages since 3.10; the
# "Missing parentheses" ones since 3.6), and what it means.
_PYTHON2_MESSAGES = (
    ("Missing parentheses in call to 'print'", "print statement"),
    ("Missing parentheses in call to 'exec'", "exec statement"),
    ("multiple exception types must be parenthesized", "except clause with a comma"),
    ("leading zeros in decimal integer literals", "octal literal 0777"),
)


def python2_evidence(message: str) -> str | None:
    """Why a syntax error shows Python 2 code (``"print statement"``), or None.

    ``message`` is the parser's message (:class:`._scan.ScanError`); the phrases are
    those CPython 3 gives for Python 2 syntax, which PEP 3105 (print), the 3.0 "What's
    New" (``exec``, ``except E, e``) and PEP 3127 (octal literals) removed.
    """
    for phrase, meaning in _PYTHON2_MESSAGES:
        if phrase in message:
            return meaning
    return None


def recover_imports(source: bytes, target: Target) -> tuple[ImportSite, ...]:
    """The import statements found in ``source`` (a file's bytes), in source order."""
    lines = _decode(source).splitlines(keepends=True)
    statements = list(_statements(lines))
    sites: list[ImportSite] = []
    for index, stmt in enumerate(statements):
        found = _import_sites(stmt.tokens)
        if not found:
            continue
        optional, functions, in_body = _context(statements, index, lines, target)
        sites.extend(
            ImportSite(module, level, names, line, optional, "import", in_body, functions)
            for module, level, names, line in found
        )
    return tuple(sites)


def _decode(source: bytes) -> str:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    except SyntaxError:
        encoding = "utf-8"
    try:
        text = source.decode(encoding, errors="replace")
    except LookupError:
        text = source.decode("utf-8", errors="replace")
    return text.removeprefix("\ufeff").replace("\0", " ")


def _statements(lines: list[str]) -> Iterator[_Statement]:
    """Statements of ``lines``, tokenizing again after each tokenizer error."""
    start = 0
    while start < len(lines):
        current: list[tokenize.TokenInfo] = []
        readline = iter(lines[start:]).__next__
        try:
            for token in tokenize.generate_tokens(readline):
                if token.type in _SKIP:
                    continue
                token = _shift(token, start)
                if token.type == tokenize.NEWLINE:
                    yield from _split(current)
                    current = []
                else:
                    current.append(token)
            yield from _split(current)
            return
        except (tokenize.TokenError, SyntaxError, ValueError) as exc:
            restart = _error_line(exc, start)
            if isinstance(exc, IndentationError):
                restart -= 1  # the line itself is fine; only its indentation was unexpected
            elif current:
                # The error is inside a statement, maybe one whose unclosed bracket
                # swallowed the lines after it: keep the statement's first line and
                # read on from the next one.
                first = current[0].start[0]
                current = [t for t in current if t.start[0] == first]
                restart = min(restart, first)
            yield from _split(current)
            start = max(restart, start + 1)


def _shift(token: tokenize.TokenInfo, lines: int) -> tokenize.TokenInfo:
    if not lines:
        return token
    (sr, sc), (er, ec) = token.start, token.end
    return token._replace(start=(sr + lines, sc), end=(er + lines, ec))


def _error_line(exc: Exception, start: int) -> int:
    """The 1-based line (in the whole file) where tokenizing failed."""
    line: object = None
    if isinstance(exc, SyntaxError):
        line = exc.lineno
    elif isinstance(exc, tokenize.TokenError) and len(exc.args) > 1:
        position = exc.args[1]
        line = position[0] if isinstance(position, tuple) else None
    return start + line if isinstance(line, int) and line > 0 else start + 1


def _split(tokens: list[tokenize.TokenInfo]) -> Iterator[_Statement]:
    """A logical line's statements: split at ``;`` and after a compound header's ``:``."""
    depth = 0
    pending: list[tokenize.TokenInfo] = []
    col = 2 * tokens[0].start[1] if tokens else 0
    for token in tokens:
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth = max(depth - 1, 0)
        if depth == 0 and token.type == tokenize.OP and token.string == ";":
            if pending:
                yield _Statement(col, tuple(pending))
            pending = []
            continue
        pending.append(token)
        if (
            depth == 0
            and token.string == ":"
            and pending[0].string in _COMPOUND | {"async"}
            and not any(t.string == "lambda" for t in pending)
        ):
            yield _Statement(col, tuple(pending))
            pending = []
            col = col | 1
    if pending:
        yield _Statement(col, tuple(pending))


def _dotted(tokens: tuple[tokenize.TokenInfo, ...], i: int) -> tuple[str, int]:
    """The dotted name starting at ``tokens[i]`` and the index after it."""
    parts: list[str] = []
    while i < len(tokens) and tokens[i].type == tokenize.NAME:
        parts.append(tokens[i].string)
        i += 1
        if i + 1 < len(tokens) and tokens[i].string == "." and tokens[i + 1].type == tokenize.NAME:
            i += 1
        else:
            break
    return ".".join(parts), i


def _import_sites(
    tokens: tuple[tokenize.TokenInfo, ...],
) -> list[tuple[str, int, tuple[str, ...], int]]:
    """``(module, level, names, line)`` of an import statement, [] for anything else."""
    if not tokens or tokens[0].type != tokenize.NAME:
        return []
    line = tokens[0].start[0]
    words = [t.string for t in tokens]
    if words[0] == "import":
        found: list[tuple[str, int, tuple[str, ...], int]] = []
        i = 1
        while i < len(tokens):
            module, i = _dotted(tokens, i)
            if not module:
                break
            found.append((module, 0, (), line))
            if i < len(tokens) and words[i] == "as":
                i += 2
            if i < len(tokens) and words[i] != ",":
                break
            i += 1
        return found
    if words[0] != "from":
        return []
    i, level = 1, 0
    while i < len(tokens) and words[i] in (".", "..."):
        level += len(words[i])
        i += 1
    module = ""
    if i < len(tokens) and words[i] != "import":
        module, i = _dotted(tokens, i)
    if i >= len(tokens) or words[i] != "import" or not (module or level):
        return []
    names: list[str] = []
    for j in range(i + 1, len(tokens)):
        if words[j] == "*" and not names:
            return [(module, level, ("*",), line)]
        if tokens[j].type == tokenize.NAME and words[j - 1] != "as" and words[j] != "as":
            names.append(words[j])
    return [(module, level, tuple(names), line)] if names else []


def _context(
    statements: list[_Statement], index: int, lines: list[str], target: Target
) -> tuple[bool, tuple[str, ...], bool]:
    """``(optional, enclosing functions, in a def/class body)`` of ``statements[index]``."""
    optional, in_body = False, False
    headers: list[tuple[int, _Statement]] = []
    col = statements[index].col
    for j in range(index - 1, -1, -1):
        if statements[j].col < col:
            headers.append((j, statements[j]))
            col = statements[j].col
    functions: list[str] = []
    qualname: list[str] = []
    for j, header in reversed(headers):
        keyword = header.keyword
        if keyword in ("def", "class"):
            in_body = True
            name = _header_name(header)
            qualname.append(name)
            if keyword == "def":
                functions.append(".".join(qualname))
        elif keyword == "try":
            optional = optional or _catches_import_error(statements, j)
        elif keyword == "if":
            optional = optional or _test_truth(header, lines, target) is False
        elif keyword == "else":
            optional = optional or _else_skipped(statements, j, lines, target)
    return optional, tuple(functions), in_body


def _header_name(header: _Statement) -> str:
    names = [t.string for t in header.tokens if t.type == tokenize.NAME]
    names = names[1:] if names and names[0] == "async" else names
    return names[1] if len(names) > 1 else "?"


def _catches_import_error(statements: list[_Statement], try_index: int) -> bool:
    """True if a handler of the ``try`` at ``try_index`` catches ImportError."""
    col = statements[try_index].col & ~1
    for stmt in statements[try_index + 1 :]:
        if (stmt.col & ~1) < col:
            break
        if stmt.col != col:
            continue
        if stmt.keyword != "except":
            break
        names = _except_names(stmt.tokens)
        if not names or names & _IMPORT_ERRORS:
            return True
    return False


def _except_names(tokens: tuple[tokenize.TokenInfo, ...]) -> set[str]:
    """Exception names an ``except`` header lists (``as``/Python 2 ``, e`` target kept:
    it never names an import error class)."""
    names: set[str] = set()
    for i, token in enumerate(tokens[1:], start=1):
        if token.string in (":", "as"):
            break
        if token.type == tokenize.NAME and tokens[i - 1].string != ".":
            names.add(token.string)
        elif token.type == tokenize.NAME:
            names.discard(tokens[i - 2].string)
            names.add(token.string)
    return names


def _test_truth(header: _Statement, lines: list[str], target: Target) -> bool | None:
    """The static truth of an ``if``/``elif`` test (None when undecidable)."""
    tokens = header.tokens
    if len(tokens) < 3 or tokens[-1].string != ":":
        return None
    text = _text(lines, tokens[1].start, tokens[-1].start)
    try:
        expr = ast.parse(f"(\n{text}\n)", mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return static_truth(expr, target)


def _else_skipped(
    statements: list[_Statement], else_index: int, lines: list[str], target: Target
) -> bool:
    """True if the ``else`` at ``else_index`` is never reached: a test before it in the
    same ``if``/``elif`` chain is always true."""
    col = statements[else_index].col
    for stmt in reversed(statements[:else_index]):
        if stmt.col > col:
            continue
        if stmt.col < col or stmt.keyword not in ("if", "elif"):
            return False
        if _test_truth(stmt, lines, target) is True:
            return True
        if stmt.keyword == "if":
            return False
    return False


def _text(lines: list[str], start: tuple[int, int], end: tuple[int, int]) -> str:
    """The source between two token positions (1-based rows, 0-based columns)."""
    (sr, sc), (er, ec) = start, end
    if sr == er:
        return lines[sr - 1][sc:ec]
    return lines[sr - 1][sc:] + "".join(lines[sr : er - 1]) + lines[er - 1][:ec]
