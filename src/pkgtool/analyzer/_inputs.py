"""What ``pkg analyze`` was given: scripts, notebooks and directories, as entry points.

- A script (any file; ``.ipynb`` is read as a notebook, :mod:`._notebook`) is one entry
  point; its directory is ``sys.path[0]``.
- A directory is searched recursively, in sorted order: every ``*.py`` and ``*.ipynb``
  file is an entry point, and the directory is an import root of them all
  (:mod:`._project`). Skipped: hidden files and directories (``.git``,
  ``.ipynb_checkpoints``), ``__pycache__``, virtual environments (a directory holding
  ``pyvenv.cfg``, PEP 405), ``site-packages``, ``node_modules``, ``build``, ``dist``
  and ``*.egg-info``.

A file found in a directory inside a regular package (its directory holds
``__init__.py``) is taken as run with ``python -m pkg.module`` from the directory above
the outermost package: that directory is its ``sys.path[0]`` and its ``__package__`` is
set (PEP 366), so its relative imports resolve (PEP 328) and its package's modules do
not pose as top-level ones (``pkg/logging.py`` does not shadow :mod:`logging`).

A script given as a file inside a regular package is analysed the same way: its
``__package__`` comes from the ``__init__.py`` chain (so ``from . import x`` is
followed, never dropped) and the directory above the outermost package is an import
root (so the project's own package name is never taken for a distribution); its own
directory stays ``sys.path[0]`` for the sibling imports of ``python pkg/cli.py``.

A file reached twice counts once, where it was first given.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

from pkgtool._files import MAX_NOTEBOOK, MAX_SOURCE, check_input
from pkgtool.analyzer._project import import_roots
from pkgtool.analyzer._walk import Entry
from pkgtool.errors import InputError, UsageError

SOURCE_SUFFIXES = (".py", ".ipynb")
SKIPPED_DIRS = frozenset({"__pycache__", "site-packages", "node_modules", "build", "dist"})

_HINT = "give the Python scripts, notebooks or directories you run, e.g. analysis.py"


def collect_entries(inputs: Sequence[Path], home: Path | None) -> list[Entry]:
    """The entry points of ``inputs`` (relative or absolute paths), in order, deduplicated.

    ``home`` bounds the search for project roots (:func:`._project.project_root`).

    Raises:
        UsageError: ``inputs`` is empty.
        InputError: an input is missing, unreadable, not a regular file or larger than
            its bound (:data:`pkgtool._files.MAX_SOURCE`, ``MAX_NOTEBOOK``), or a
            directory holds no script.
    """
    if not inputs:
        raise UsageError("no script to analyse", hint="give the script: pkg analyze SCRIPT OUT")
    _import_roots.cache_clear()  # remembered for one call: files come and go between calls
    _package_of.cache_clear()
    entries: dict[Path, Entry] = {}
    for given in inputs:
        path = Path(os.path.abspath(given))
        if _is_dir(path):
            groups = _walk(str(path))
            if not groups:
                raise InputError(
                    f"no Python script or notebook under directory {given}", hint=_HINT
                )
            base = os.path.join(str(path), "")  # with a trailing separator
            for directory, names in groups:
                here = Path(directory)
                search_dir, package = _package_of(here)
                roots = _import_roots(search_dir, path, home)[1:]
                rel = directory[len(base) :] if directory.startswith(base) else ""
                for name in names:
                    file = here / name
                    if file not in entries:
                        display = os.path.normpath(os.path.join(given, rel, name))
                        entries[file] = Entry(file, display, package, roots, search_dir, True)
        else:
            _check_readable(path, given)
            roots = _import_roots(path.parent, None, home)[1:]
            package = ""
            if (path.parent / "__init__.py").is_file():
                # ``pkg/cli.py`` beside ``pkg/__init__.py``: run as ``python -m pkg.cli``
                # its relative imports work and ``import pkg`` is the project's own, run
                # as ``python pkg/cli.py`` its siblings import as top-level modules
                # (pytorch/examples' ``neural_style/neural_style.py`` does ``import
                # utils``). Both hold: sys.path[0] stays the file's directory, the
                # package root comes next, and ``__package__`` is set (PEP 366).
                package_root, package = _package_of(path.parent)
                roots = (package_root, *(r for r in roots if r != package_root))
            entry = Entry(path, str(given), package, roots=roots, search_dir=path.parent)
            entries.setdefault(path, entry)
    return list(entries.values())


def _is_dir(path: Path) -> bool:
    """Whether ``path`` is a directory; False when it cannot be looked at (an untraversable
    parent: ``Path.is_dir`` raises PermissionError there), so the file check names it."""
    try:
        return path.is_dir()
    except OSError:
        return False


def _check_readable(path: Path, given: Path) -> None:
    """Raise InputError (exit 3) unless ``given`` is a readable regular file within its
    bound (:func:`._notebook.read_bounded`), reading at most one byte of it."""
    limit = MAX_NOTEBOOK if path.suffix == ".ipynb" else MAX_SOURCE
    check_input(given, "script", limit, hint="check the path; " + _HINT)


# Files of one directory share their import roots; finding the project root costs a
# few stat() calls per parent directory.
_import_roots = functools.lru_cache(maxsize=4096)(import_roots)


@functools.lru_cache(maxsize=4096)  # per directory, cleared by collect_entries
def _package_of(directory: Path) -> tuple[Path, str]:
    """``(sys.path[0], __package__)`` for a module in ``directory`` run with ``-m``."""
    parts: list[str] = []
    while (directory / "__init__.py").is_file() and directory.name.isidentifier():
        parts.append(directory.name)
        if directory.parent == directory:
            break
        directory = directory.parent
    return directory, ".".join(reversed(parts))


def _walk(top: str) -> list[tuple[str, list[str]]]:
    """The directories under ``top`` (absolute; itself included) that hold ``.py`` or
    ``.ipynb`` files, with those files' names: pruned, sorted, each directory before
    its subdirectories (the order of :func:`os.walk`, which does not follow links to
    directories either). Unreadable directories are left out."""
    found: list[tuple[str, list[str]]] = []
    todo = [top]
    while todo:
        current = todo.pop()
        try:
            with os.scandir(current) as it:
                listing = list(it)
        except OSError:
            continue
        dirs: list[str] = []
        files: list[str] = []
        for entry in listing:
            name = entry.name
            try:
                if entry.is_dir():
                    if not entry.is_symlink() and not _skipped(entry.path, name):
                        dirs.append(name)
                elif (
                    name.endswith(SOURCE_SUFFIXES) and not name.startswith(".") and entry.is_file()
                ):
                    files.append(name)
            except OSError:  # gone, or no permission to stat: not an input
                continue
        if files:
            found.append((current, sorted(files)))
        todo.extend(os.path.join(current, d) for d in sorted(dirs, reverse=True))
    return found


def _skipped(directory: str, name: str) -> bool:
    return (
        name.startswith(".")
        or name in SKIPPED_DIRS
        or name.endswith(".egg-info")
        or os.path.exists(os.path.join(directory, "pyvenv.cfg"))
    )
