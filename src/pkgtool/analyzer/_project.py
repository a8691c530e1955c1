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

Roots 2 to 4 are found in ``site-packages`` or the working directory at run time, i.e.
after the standard library: they never shadow a standard module, but they do shadow a
distribution of the same name (the user's ``github.py`` is theirs, not PyGithub's).
"""

from __future__ import annotations

from pathlib import Path

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
        roots.append(project)
        if (project / "src").is_dir():
            roots.append(project / "src")
    return tuple(dict.fromkeys(roots))
