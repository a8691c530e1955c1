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
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_EXTENSION_ENDINGS = (".so", ".pyd")


@dataclass(frozen=True)
class LocalModule:
    """A module found next to the script.

    ``name`` is the dotted module name (``"helpers.stats"``); ``file`` the absolute path
    of its source or extension file, None for a namespace package; ``package_dir`` the
    absolute directory of a package (regular or namespace), None for a plain module.
    """

    name: str
    file: Path | None
    package_dir: Path | None

    @property
    def package(self) -> str:
        """The module's ``__package__``: itself for a package, else its parent."""
        return self.name if self.package_dir is not None else self.name.rpartition(".")[0]


class LocalFinder:
    """Look modules up in one directory (the entry script's, i.e. ``sys.path[0]``).

    ``namespace_allowed(name)`` says whether a top-level namespace-package directory
    may claim ``name``: it must return False for names a regular module elsewhere on
    ``sys.path`` provides (standard library, installed distributions), per PEP 420.
    """

    def __init__(self, directory: Path, namespace_allowed: Callable[[str], bool]) -> None:
        self.directory = directory
        self._namespace_allowed = namespace_allowed
        self._listings: dict[Path, frozenset[str]] = {}
        self._has_python: dict[Path, bool] = {}

    def find_top(self, name: str) -> LocalModule | None:
        """The top-level module ``name`` in the directory, or None."""
        return self._find(self.directory, name, name, self._namespace_allowed(name))

    def find_child(self, parent: LocalModule, name: str) -> LocalModule | None:
        """The submodule ``parent.name``, or None (e.g. ``name`` is an attribute)."""
        if parent.package_dir is None:
            return None
        return self._find(parent.package_dir, name, f"{parent.name}.{name}", True)

    def find_chain(self, dotted: str) -> list[LocalModule]:
        """The modules ``import dotted`` loads here, outermost first.

        ``[]`` when the top-level name is not local; stops at the first part that is
        not found (the import would fail there, or it names an attribute).
        """
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

    def _find(self, directory: Path, name: str, dotted: str, allow_ns: bool) -> LocalModule | None:
        if not name.isidentifier():
            return None
        entries = self._listing(directory)
        candidate = directory / name
        is_dir = name in entries and candidate.is_dir()
        if is_dir and "__init__.py" in self._listing(candidate):
            return LocalModule(dotted, candidate / "__init__.py", candidate)
        extensions = sorted(
            e for e in entries if e.startswith(f"{name}.") and e.endswith(_EXTENSION_ENDINGS)
        )
        if extensions:
            return LocalModule(dotted, directory / extensions[0], None)
        if f"{name}.py" in entries and (directory / f"{name}.py").is_file():
            return LocalModule(dotted, directory / f"{name}.py", None)
        if is_dir and allow_ns and self._holds_python(candidate):
            return LocalModule(dotted, None, candidate)
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
