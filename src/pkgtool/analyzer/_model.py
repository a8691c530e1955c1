"""The analyzer's public value types: options in, problems and result out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pkgtool.spec import ImportRecord, Spec


@dataclass(frozen=True)
class AnalyzeOptions:
    """How to analyse.

    ``python_version`` is the target ``"X.Y"`` (None: the running interpreter's); it
    selects the standard-library list and the ``python=X.Y`` dependency.
    ``toplevel`` keeps only imports that run when the script starts: those outside
    every ``def``/``class`` body (inside top-level ``if``/``try``/``with`` blocks too).
    ``function`` keeps those plus the imports inside the function(s) of that name
    (``"name"`` or a qualified ``"Class.method"``), nested code included. These are the
    meanings of cctools' ``poncho_package_analyze --toplevel/--function``, made for
    shipping one function (a Work Queue/TaskVine ``PythonTask``) rather than a script;
    in both modes the script's local modules contribute their top-level imports only.
    ``pkg_mapping`` maps an import name (maybe dotted) to a distribution name and wins
    over every other rule, local modules and the standard library included.
    ``spec_dir`` is the directory the spec will be written to: every path in the spec
    is relative to it.
    ``pin`` is how installed versions become requirements: ``"exact"`` (``==1.2.3``;
    conda ``=1.2.3``), ``"compatible"`` (PEP 440 ``~=1.2.3``; conda ``>=1.2.3,<1.3``) or
    ``"none"``. ``conda`` names distributions (or import names) to take from conda even
    when the analysing environment installed them with pip; a name no import resolves to
    is added as an extra conda package. ``freeze`` adds every installed transitive
    dependency of the required distributions, pinned exactly (pipdeptree).
    ``python`` is the interpreter (path or name on PATH) whose installed distributions
    give versions and installers, and whose version is the default target (None: the
    interpreter running pkgtool).
    ``cache`` reuses results stored under the user cache directory
    (``$PKG_ANALYZE_CACHE_DIR``, else ``${XDG_CACHE_HOME:-~/.cache}/pkgtool/analyze``):
    per-file scans keyed by each file's content hash, and whole results checked against
    the content hash of every file read, the directory listings consulted and the
    installed metadata (see :mod:`._results`); False neither reads nor writes them.
    """

    python_version: str | None = None
    toplevel: bool = False
    function: str | None = None
    pkg_mapping: Mapping[str, str] = field(default_factory=dict)
    spec_dir: Path = Path(".")
    pin: str = "exact"
    conda: frozenset[str] = frozenset()
    freeze: bool = False
    python: Path | None = None
    cache: bool = True


@dataclass(frozen=True)
class Problem:
    """A file the analyzer could not read or parse.

    ``path`` is the file as the user would name it (the script path as given, joined
    with the local module's relative path); ``line`` is 1-based or None (for a notebook,
    a line of its joined source; the message then names the cell). ``recovered`` is the
    number of imports read from the tokens of a file that does not parse: they are in
    the analysis like any other import (0: none found, or the file was unreadable).
    ``entry`` is True for a script named on the command line: only such a problem stops
    ``pkg analyze`` (exit 3, unless ``--keep-going``); a module it imports or a file found
    by walking a directory is reported and the analysis goes on (docs/analyzer.md,
    "Files that do not parse").
    """

    path: str
    line: int | None
    message: str
    recovered: int = 0
    entry: bool = True

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        if self.recovered:
            plural = "s" if self.recovered != 1 else ""
            return f"{where}: {self.message} ({self.recovered} import{plural} recovered)"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Finding:
    """An import the analyzer saw but did not turn into a distribution, and why.

    ``path`` and ``line`` as for :class:`Problem`; ``module`` the import name as written
    (made absolute); ``message`` one line: ``"Python 2 module, not in Python 3.11's
    standard library"``, ``"generated module (protoc output)"``, ``"relative import
    cannot be followed: ..."``, ``"unresolved name under the shared namespace 'google'"``.
    Findings never stop ``pkg analyze``; the spec does not get these names.
    """

    path: str
    line: int | None
    module: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.module}: {self.message}"


@dataclass(frozen=True)
class AnalysisResult:
    """What :func:`~pkgtool.analyzer.analyze` found.

    ``spec`` is complete even when ``problems`` is not empty (the CLI refuses to write
    it then, unless told to keep going); it includes the imports recovered from files
    that do not parse. ``imports`` equals ``spec.analysis.imports``: one record per
    non-standard import, sorted by module name. ``findings`` are the imports left out of
    the spec on purpose (:class:`Finding`), in the order found.
    """

    spec: Spec
    problems: tuple[Problem, ...]
    imports: tuple[ImportRecord, ...]
    findings: tuple[Finding, ...] = ()

    @property
    def recovered(self) -> int:
        """How many imports were recovered from the tokens of files that do not parse."""
        return sum(p.recovered for p in self.problems)
