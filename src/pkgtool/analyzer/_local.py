"""Find the script's own modules the way Python would, without importing anything.

When Python runs ``python3 dir/analysis.py``, ``sys.path[0]`` is ``dir`` (the Python
tutorial, "The Module Search Path"), so ``import helper`` finds ``dir/helper.py`` before
any installed or standard module (except built-in and start-up modules). In one
directory, the path-based finder (``importlib.machinery.FileFinder``) tries, in order:

1. ``name/__init__.py``: a regular package;
2. ``name.<ext-suffix>.so`` then ``name.py``: a module;
3. ``name/`` without ``__init__``: a portion of a namespace package (PEP 420), which
   loses to a regular module or package found anywhere on ``sys.path``; pkgtool counts
   such a directory only when it holds ``.py`` files.

Submodules (``pkg.sub``) are looked up the same way inside the package directory.

A finder may search several import roots (:mod:`._project`), in ``sys.path`` order:
the first regular module or package found wins; failing that, the first namespace
portion. Roots after the first come after the standard library on ``sys.path``, so
they never provide a standard-library name. A namespace package's submodules are
looked up in all of its portions, root by root (PEP 420, "Dynamic path computation").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

_EXTENSION_ENDINGS = (".so", ".pyd")


@dataclass(frozen=True)
class LocalModule:
    """A module found next to the script.

    ``name`` is the dotted module name (``"helpers.stats"``); ``file`` the absolute path
    of its source or extension file, None for a namespace package; ``package_dir`` the
    absolute directory of a package (regular or namespace), None for a plain module;
    ``root`` the import root (``sys.path`` entry) it was found under, absolute.
    """

    name: str
    file: Path | None
    package_dir: Path | None
    root: Path | None = None

    @property
    def package(self) -> str:
        """The module's ``__package__``: itself for a package, else its parent."""
        return self.name if self.package_dir is not None else self.name.rpartition(".")[0]


class LocalFinder:
    """Look modules up in the entry script's directory (``sys.path[0]``), then in
    ``more_roots`` (absolute directories, see :mod:`._project`).

    ``namespace_allowed(name)`` says whether a top-level namespace-package directory
    may claim ``name``: it must return False for names a regular module elsewhere on
    ``sys.path`` provides (standard library, installed distributions), per PEP 420.
    ``stdlib`` holds the standard-library names, which ``more_roots`` never provide.
    """

    def __init__(
        self,
        directory: Path,
        namespace_allowed: Callable[[str], bool],
        more_roots: Sequence[Path] = (),
        stdlib: Collection[str] = frozenset(),
    ) -> None:
        self.directory = directory
        self.roots = (directory, *(r for r in more_roots if r != directory))
        self._stdlib = stdlib
        self._namespace_allowed = namespace_allowed
        self._listings: dict[Path, frozenset[str]] = {}
        self._has_python: dict[Path, bool] = {}
        self._found: dict[tuple[Path, str, str, bool, Path | None], LocalModule | None] = {}
        self._tops: dict[str, LocalModule | None] = {}
        self._chains: dict[str, list[LocalModule]] = {}

    def find_top(self, name: str) -> LocalModule | None:
        """The top-level module ``name`` in the import roots, or None."""
        if name not in self._tops:
            self._tops[name] = self._find_top(name)
        return self._tops[name]

    def _find_top(self, name: str) -> LocalModule | None:
        allow_ns = self._namespace_allowed(name)
        namespace: LocalModule | None = None
        for root in self.roots:
            if root != self.directory and name in self._stdlib:
                break
            found = self._find(root, name, name, allow_ns, root)
            if found is not None and found.file is not None:
                return found
            namespace = namespace or found
        return namespace

    def find_child(self, parent: LocalModule, name: str) -> LocalModule | None:
        """The submodule ``parent.name``, or None (e.g. ``name`` is an attribute)."""
        if parent.package_dir is None:
            return None
        dotted = f"{parent.name}.{name}"
        found = self._find(parent.package_dir, name, dotted, True, parent.root)
        if found is not None or parent.file is not None:
            return found
        for root in self.roots:  # the other portions of a namespace package (PEP 420)
            portion = root.joinpath(*parent.name.split("."))
            if portion != parent.package_dir and portion.is_dir():
                found = self._find(portion, name, dotted, True, root)
                if found is not None:
                    return found
        return None

    def find_chain(self, dotted: str) -> list[LocalModule]:
        """The modules ``import dotted`` loads here, outermost first.

        ``[]`` when the top-level name is not local; stops at the first part that is
        not found (the import would fail there, or it names an attribute).
        """
        if dotted not in self._chains:
            self._chains[dotted] = self._find_chain(dotted)
        return list(self._chains[dotted])  # a copy: callers extend it

    def _find_chain(self, dotted: str) -> list[LocalModule]:
        parts = dotted.split(".")
        found = self.find_top(parts[0])
        chain: list[LocalModule] = []
        for part in parts[1:]:
            if found is None:
                break
            chain.append(found)
            found = self.find_child(found, part)
        if found is not None:
            chain.append(found)
        return chain

    def _find(
        self, directory: Path, name: str, dotted: str, allow_ns: bool, root: Path | None
    ) -> LocalModule | None:
        """:meth:`_lookup`, once per question: the walk asks the same ones thousands of
        times (every ``import os`` looks ``os`` up here first)."""
        key = (directory, name, dotted, allow_ns, root)
        if key not in self._found:
            self._found[key] = self._lookup(directory, name, dotted, allow_ns, root)
        return self._found[key]

    def _lookup(
        self, directory: Path, name: str, dotted: str, allow_ns: bool, root: Path | None
    ) -> LocalModule | None:
        if not name.isidentifier():
            return None
        entries = self._listing(directory)
        candidate = directory / name
        is_dir = name in entries and candidate.is_dir()
        if is_dir and "__init__.py" in self._listing(candidate):
            return LocalModule(dotted, candidate / "__init__.py", candidate, root)
        extensions = sorted(
            e for e in entries if e.startswith(f"{name}.") and e.endswith(_EXTENSION_ENDINGS)
        )
        if extensions:
            return LocalModule(dotted, directory / extensions[0], None, root)
        if f"{name}.py" in entries and (directory / f"{name}.py").is_file():
            return LocalModule(dotted, directory / f"{name}.py", None, root)
        if is_dir and allow_ns and self._holds_python(candidate):
            return LocalModule(dotted, None, candidate, root)
        return None

    def _listing(self, directory: Path) -> frozenset[str]:
        if directory not in self._listings:
            try:
                self._listings[directory] = frozenset(os.listdir(directory))
            except OSError:
                self._listings[directory] = frozenset()
        return self._listings[directory]

    def _holds_python(self, directory: Path) -> bool:
        """True if ``directory`` or a directory below it holds a ``.py`` file."""
        if directory not in self._has_python:
            found = False
            for _root, _dirs, files in os.walk(directory):
                if any(f.endswith(".py") for f in files):
                    found = True
                    break
            self._has_python[directory] = found
        return self._has_python[directory]
