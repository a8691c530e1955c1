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

Everything a finder knows about the file system comes from :class:`Listings`: one
listing per directory, read once per analysis and shared by its finders, so the result
cache (:mod:`._results`) can record exactly which directories an answer depends on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping, Sequence
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


class Listings:
    """Directory listings as the finders see them, each read once.

    :meth:`kinds` maps each name in a directory to its kind (:func:`read_listing`).
    ``seen`` holds every listing read so far, by directory (absolute): a finder's
    answers depend on these and on nothing else of the file system, negative answers
    included (a module that is not there is a name missing from a listing).
    """

    def __init__(self) -> None:
        self.seen: dict[Path, dict[str, str]] = {}

    def kinds(self, directory: Path) -> Mapping[str, str]:
        """Name -> kind of the entries of ``directory`` (``{}`` if it cannot be listed)."""
        found = self.seen.get(directory)
        if found is None:
            found = self.seen[directory] = read_listing(directory)
        return found

    def is_dir(self, path: Path) -> bool:
        """True if ``path`` is a directory (or a link to one), per its parent's listing."""
        return self.kinds(path.parent).get(path.name) in ("d", "l")


def read_listing(directory: Path | str) -> dict[str, str]:
    """Name -> kind of each entry of ``directory``; ``{}`` if it cannot be listed.

    Kinds: ``"d"`` a directory, ``"l"`` a symbolic link to a directory, ``"f"`` a
    regular file (or a link to one), ``"o"`` anything else (a broken link, a socket).
    """
    found: dict[str, str] = {}
    try:
        with os.scandir(directory) as it:
            for entry in it:
                try:
                    if entry.is_dir():
                        kind = "l" if entry.is_symlink() else "d"
                    else:
                        kind = "f" if entry.is_file() else "o"
                except OSError:
                    kind = "o"
                found[entry.name] = kind
    except OSError:
        return {}
    return found


class LocalFinder:
    """Look modules up in the entry script's directory (``sys.path[0]``), then in
    ``more_roots`` (absolute directories, see :mod:`._project`).

    ``namespace_allowed(name)`` says whether a top-level namespace-package directory
    may claim ``name``: it must return False for names a regular module elsewhere on
    ``sys.path`` provides (standard library, installed distributions), per PEP 420.
    ``stdlib`` holds the standard-library names, which ``more_roots`` never provide.
    ``listings`` is where directories are read (share one between the finders of an
    analysis; None: a new one).
    """

    def __init__(
        self,
        directory: Path,
        namespace_allowed: Callable[[str], bool],
        more_roots: Sequence[Path] = (),
        stdlib: Collection[str] = frozenset(),
        listings: Listings | None = None,
    ) -> None:
        self.directory = directory
        self.roots = (directory, *(r for r in more_roots if r != directory))
        self._stdlib = stdlib
        self._namespace_allowed = namespace_allowed
        self.listings = listings if listings is not None else Listings()
        self._has_python: dict[Path, bool] = {}
        self._found: dict[tuple[Path, str, str, bool, Path | None], LocalModule | None] = {}
        self._tops: dict[str, LocalModule | None] = {}
        self._chains: dict[str, list[LocalModule]] = {}

    def add_root(self, root: Path) -> None:
        """Search ``root`` too, after the others (a namespace root found from an import,
        :func:`._walk.own_root`); answers already given are forgotten."""
        if root not in self.roots:
            self.roots = (*self.roots, root)
            self._tops.clear()
            self._chains.clear()

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
            if portion != parent.package_dir and self.listings.is_dir(portion):
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
        entries = self.listings.kinds(directory)
        candidate = directory / name
        is_dir = entries.get(name) in ("d", "l")
        if is_dir and "__init__.py" in self.listings.kinds(candidate):
            return LocalModule(dotted, candidate / "__init__.py", candidate, root)
        extensions = sorted(
            e for e in entries if e.startswith(f"{name}.") and e.endswith(_EXTENSION_ENDINGS)
        )
        if extensions:
            return LocalModule(dotted, directory / extensions[0], None, root)
        if entries.get(f"{name}.py") == "f":
            return LocalModule(dotted, directory / f"{name}.py", None, root)
        if is_dir and allow_ns and self._holds_python(candidate):
            return LocalModule(dotted, None, candidate, root)
        return None

    def _holds_python(self, directory: Path) -> bool:
        """True if ``directory`` or a directory below it holds a ``.py`` file (as
        :func:`os.walk` finds them: links to directories are not followed)."""
        if directory not in self._has_python:
            found = False
            todo = [directory]
            while todo and not found:
                here = todo.pop()
                kinds = self.listings.kinds(here)
                found = any(k in ("f", "o") and n.endswith(".py") for n, k in kinds.items())
                todo.extend(here / n for n, k in sorted(kinds.items(), reverse=True) if k == "d")
            self._has_python[directory] = found
        return self._has_python[directory]
