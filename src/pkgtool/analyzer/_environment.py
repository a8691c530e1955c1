"""The Python environment whose installed distributions answer "which version?".

It is the *user's* environment, never pkgtool's own (pkgtool may live in a pipx or uv
tool venv, or in a venv next to its test extras: pinning its own ``requests``/``PyYAML``
would make the spec depend on how pkgtool was installed). In order
(:func:`find_environment`):

1. ``pkg analyze --python PYTHON``;
2. the active virtual environment: ``$VIRTUAL_ENV/bin/python`` (set by every venv
   ``activate`` script, PEP 405 / the venv docs);
3. the active conda environment: ``$CONDA_PREFIX/bin/python`` (set by ``conda
   activate``);
4. the first ``python3`` on ``PATH`` (what ``python3 analysis.py`` would run);
5. none: no versions are pinned.

The interpreter is asked once, in a subprocess with ``-I``, for its ``sys.path``,
``sys.prefix`` and version. Nothing of the analysed code runs.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pkgtool.errors import InputError

_PROBE = (
    "import json, sys; print(json.dumps({'path': [p for p in sys.path if p], "
    "'prefix': sys.prefix, 'version': '%d.%d.%d' % sys.version_info[:3], "
    "'executable': sys.executable}))"
)


@dataclass(frozen=True)
class Environment:
    """``path``: the interpreter's sys.path; ``prefix``: its sys.prefix (conda-meta lives
    there for conda environments); ``version``: "X.Y.Z"; ``executable``: absolute path."""

    path: tuple[str, ...]
    prefix: Path
    version: str
    executable: Path


@dataclass(frozen=True)
class Located:
    """The environment :func:`find_environment` chose: ``source`` is ``"--python"``,
    ``"VIRTUAL_ENV"``, ``"CONDA_PREFIX"``, ``"PATH"`` or ``"none"``; ``env`` None for
    ``"none"``."""

    source: str
    env: Environment | None

    def describe(self) -> str:
        """One line without absolute paths: ``"VIRTUAL_ENV: .venv (Python 3.11.7)"``."""
        if self.env is None:
            return "none (no versions pinned)"
        return f"{self.source}: {self.env.prefix.name or '/'} (Python {self.env.version})"


def find_environment(python: Path | None, environ: Mapping[str, str]) -> Located:
    """The user's environment (see the module docstring) given ``--python`` and the
    process environment ``environ``.

    Raises:
        InputError: ``python`` was given and does not run as a Python interpreter (an
            environment found by the other rules that does not run is skipped).
    """
    if python is not None:
        return Located("--python", inspect_environment(python))
    candidates: list[tuple[str, str | None]] = [
        ("VIRTUAL_ENV", _prefix_python(environ.get("VIRTUAL_ENV"))),
        ("CONDA_PREFIX", _prefix_python(environ.get("CONDA_PREFIX"))),
        ("PATH", shutil.which("python3", path=environ.get("PATH", os.defpath))),
    ]
    for source, found in candidates:
        if found is None:
            continue
        try:
            return Located(source, _inspect_cached(found, _mtime(found)))
        except InputError:
            continue
    return Located("none", None)


def _prefix_python(prefix: str | None) -> str | None:
    if not prefix:
        return None
    for name in ("python3", "python"):
        candidate = os.path.join(prefix, "bin", name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


@functools.lru_cache(maxsize=16)
def _inspect_cached(python: str, mtime: int) -> Environment:
    """:func:`inspect_environment`, once per interpreter file and modification time."""
    return inspect_environment(Path(python))


def inspect_environment(python: Path) -> Environment:
    """Ask ``python`` (a path, or a name on PATH) for its environment.

    Raises:
        InputError: it cannot be run, or does not answer as a Python interpreter.
    """
    found = shutil.which(str(python)) if os.sep not in str(python) else str(python)
    hint = "give the python of the environment the script runs in, e.g. .venv/bin/python"
    if not found:
        raise InputError(f"cannot find python interpreter {python}", hint=hint)
    try:
        proc = subprocess.run(
            [found, "-I", "-c", _PROBE],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
        data = json.loads(proc.stdout)
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"{python} does not run as a Python interpreter: {exc}", hint) from exc
    return Environment(
        tuple(str(p) for p in data["path"]),
        Path(data["prefix"]),
        str(data["version"]),
        Path(data["executable"]),
    )
