"""Where a script's own code can be imported from: its import roots, in ``sys.path`` order.

1. The script's directory: ``sys.path[0]`` when Python runs ``python3 dir/script.py``
   (the Python tutorial, "The Module Search Path"). It comes before the standard
   library, so a local module there shadows a standard one.
2. The directory given on the command line, when the script was found by walking a
   directory (that directory is the root of the local code).
3. The *project root*: the nearest directory at or above the script's that holds
   ``pyproject.toml``, ``setup.cfg``, ``setup.py`` or ``.git``, below the user's home
   and the filesystem root (neither of which is ever a project root). Its top-level
   modules and packages are importable when the project is installed (flat layout) or
   when the script runs from the root (``python -m``).
4. ``<project root>/src``, for the src layout (the Python Packaging User Guide, "src
   layout vs flat layout"): the packages there are what the project installs.

5. The package directories the project's metadata declares (:func:`metadata_roots`):
   setuptools ``package_dir={"": "lib"}`` / ``find_packages("lib")`` in ``setup.py``
   (read with :mod:`ast`, never run), ``[options] package_dir`` and
   ``[options.packages.find] where`` in ``setup.cfg``, ``[tool.setuptools]
   package-dir`` and ``packages.find.where``, hatch's ``packages``/``sources``, poetry's
   ``packages = [{include, from}]`` and pdm's ``package-dir`` in ``pyproject.toml``.
6. Nested sub-projects: directories up to two levels below the project root (or, with
   no project root, directly in the script's directory, unless that is the user's home
   or ``/``) that hold their own
   ``pyproject.toml``/``setup.cfg``/``setup.py`` (a monorepo's ``packages/core/``, a
   library beside a notebook), with their ``src/`` and metadata roots: a script imports
   them when they are installed in development mode, and then their declared
   requirements (:func:`declared_requirements`) are installed too.

Roots 2 to 6 are found in ``site-packages`` or the working directory at run time, i.e.
after the standard library: they never shadow a standard module, but they do shadow a
distribution of the same name (the user's ``github.py`` is theirs, not PyGithub's).
"""

from __future__ import annotations

import ast
import configparser
import os
import tomllib
from pathlib import Path
from typing import Any

from pkgtool._files import MAX_SOURCE, MAX_SPEC, read_regular

PROJECT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")


def project_root(start: Path, home: Path | None) -> Path | None:
    """The nearest directory at or above ``start`` (absolute) holding a project marker.

    The walk stops below ``home`` (when ``start`` is inside it) and below the filesystem
    root: None when no directory in between holds a marker.
    """
    for directory in (start, *start.parents):
        if directory == home or directory.parent == directory:
            return None
        if any((directory / marker).exists() for marker in PROJECT_MARKERS):
            return directory
    return None


def import_roots(script_dir: Path, given_dir: Path | None, home: Path | None) -> tuple[Path, ...]:
    """The import roots of a script (see the module docstring), first one first.

    ``script_dir`` is ``sys.path[0]`` for the script; ``given_dir`` the directory input
    it was found under, if any. All paths absolute; no root appears twice.
    """
    roots = [script_dir]
    if given_dir is not None:
        roots.append(given_dir)
    project = project_root(script_dir, home)
    if project is not None:
        roots.extend(_project_roots(project))
        nested = subprojects(project)
    elif script_dir in (home, Path(script_dir.anchor)):
        nested = []  # never search $HOME or / for projects
    else:
        nested = subprojects(script_dir, depth=1)  # a library beside the script
    for sub in nested:
        roots.extend(_project_roots(sub))
    return tuple(dict.fromkeys(roots))


def _project_roots(project: Path) -> list[Path]:
    roots = [project]
    if (project / "src").is_dir():
        roots.append(project / "src")
    roots.extend(metadata_roots(project))
    return roots


_SKIP = frozenset({"node_modules", "site-packages", "build", "dist", "__pycache__"})


def subprojects(project: Path, depth: int = 2) -> list[Path]:
    """Directories below ``project`` (at most ``depth`` levels) holding a packaging file
    (``pyproject.toml``, ``setup.cfg`` or ``setup.py``), sorted; hidden directories,
    virtual environments and build output are not searched."""
    found: list[Path] = []
    level = [project]
    for _ in range(depth):
        below: list[Path] = []
        for directory in level:
            try:
                children = sorted(e.name for e in os.scandir(directory) if e.is_dir())
            except OSError:
                continue
            for name in children:
                child = directory / name
                if name.startswith(".") or name in _SKIP or (child / "pyvenv.cfg").exists():
                    continue
                if any((child / m).is_file() for m in PROJECT_MARKERS[:3]):
                    found.append(child)
                below.append(child)
        level = below
    return found


def metadata_roots(project: Path) -> list[Path]:
    """Import roots the packaging metadata of ``project`` declares (see the module
    docstring, item 5), existing directories only, in the order found."""
    dirs: list[str] = []
    dirs += _setup_py_dirs(project / "setup.py")
    dirs += _setup_cfg_dirs(project / "setup.cfg")
    dirs += _pyproject_dirs(project / "pyproject.toml")
    roots = [project / d for d in dirs if d and d not in (".", "./")]
    return [r for r in dict.fromkeys(roots) if r.is_dir()]


def _setup_py_dirs(path: Path) -> list[str]:
    """``package_dir={"": "lib"}`` and ``find_packages("lib")``/``where="lib"`` (also
    ``find_namespace_packages``) in the ``setup()`` call of ``setup.py``, read as literals."""
    try:
        tree = ast.parse(read_regular(path, MAX_SOURCE))
    except (OSError, SyntaxError, ValueError):
        return []
    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if name in ("find_packages", "find_namespace_packages"):
            where = node.args[0] if node.args else None
            for kw in node.keywords:
                where = kw.value if kw.arg == "where" else where
            if isinstance(where, ast.Constant) and isinstance(where.value, str):
                found.append(where.value)
        for kw in node.keywords:
            if kw.arg == "package_dir" and isinstance(kw.value, ast.Dict):
                for key, value in zip(kw.value.keys, kw.value.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and key.value == ""
                        and isinstance(value, ast.Constant)
                        and isinstance(value.value, str)
                    ):
                        found.append(value.value)
    return found


def _setup_cfg_dirs(path: Path) -> list[str]:
    """``[options] package_dir = =lib`` and ``[options.packages.find] where = lib``."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(read_regular(path, MAX_SPEC).decode("utf-8"))
    except (OSError, UnicodeDecodeError, configparser.Error):
        return []
    found: list[str] = []
    for line in parser.get("options", "package_dir", fallback="").splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.strip() and value.strip():
            found.append(value.strip())
    where = parser.get("options.packages.find", "where", fallback="").strip()
    if where:
        found.append(where)
    return found


def _pyproject_dirs(path: Path) -> list[str]:
    """setuptools, hatch, poetry and pdm package locations in ``pyproject.toml``."""
    try:
        data = tomllib.loads(read_regular(path, MAX_SPEC).decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    tool: dict[str, Any] = data.get("tool", {}) if isinstance(data.get("tool"), dict) else {}
    found: list[str] = []
    setuptools = _table(tool, "setuptools")
    package_dir = _table(setuptools, "package-dir")
    if isinstance(package_dir.get(""), str):
        found.append(package_dir[""])
    where = _table(_table(setuptools, "packages"), "find").get("where", [])
    found += [w for w in (where if isinstance(where, list) else [where]) if isinstance(w, str)]
    wheel = _table(_table(_table(_table(tool, "hatch"), "build"), "targets"), "wheel")
    for key in ("packages", "only-include"):
        for item in wheel.get(key, []) if isinstance(wheel.get(key), list) else []:
            if isinstance(item, str) and "/" in item.strip("/"):
                found.append(item.strip("/").rsplit("/", 1)[0])
    sources = wheel.get("sources")
    if isinstance(sources, list):
        found += [s for s in sources if isinstance(s, str)]
    elif isinstance(sources, dict):
        found += [k for k, v in sources.items() if isinstance(k, str) and v == ""]
    for item in _table(tool, "poetry").get("packages", []) or []:
        if isinstance(item, dict) and isinstance(item.get("from"), str):
            found.append(item["from"])
    pdm_dir = _table(_table(tool, "pdm"), "build").get("package-dir")
    if isinstance(pdm_dir, str):
        found.append(pdm_dir)
    return found


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def declared_requirements(project: Path) -> list[str]:
    """The requirements ``project`` declares for installation, in the order found:
    ``[project] dependencies`` in ``pyproject.toml`` (PEP 621), ``[options]
    install_requires`` in ``setup.cfg`` (setuptools' declarative config) and a literal
    ``install_requires=[...]`` of the ``setup()`` call in ``setup.py`` (read with
    :mod:`ast`, never run). Strings only; nothing computed is followed."""
    found: list[str] = []
    try:
        data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        data = {}
    table = data.get("project")
    deps = table.get("dependencies") if isinstance(table, dict) else None
    found += [d for d in deps if isinstance(d, str)] if isinstance(deps, list) else []
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string((project / "setup.cfg").read_text(encoding="utf-8"))
        text = parser.get("options", "install_requires", fallback="")
    except (OSError, UnicodeDecodeError, configparser.Error):
        text = ""
    found += [line.strip() for line in text.splitlines() if line.strip()]
    found += _setup_py_requires(project / "setup.py")
    return found


def _setup_py_requires(path: Path) -> list[str]:
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return []
    for node in ast.walk(tree):
        for kw in node.keywords if isinstance(node, ast.Call) else ():
            if kw.arg == "install_requires" and isinstance(kw.value, (ast.List, ast.Tuple)):
                return [
                    e.value
                    for e in kw.value.elts
                    if isinstance(e, ast.Constant) and isinstance(e.value, str)
                ]
    return []


def subproject_of(root: Path) -> Path | None:
    """The directory of the packaging file an import root belongs to: the root itself,
    or the project above its ``src/`` (None: neither holds a packaging file)."""
    for directory in (root, root.parent) if root.name == "src" else (root,):
        if any((directory / m).is_file() for m in PROJECT_MARKERS[:3]):
            return directory
    return None
