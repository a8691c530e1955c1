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
``sys.prefix`` and version. Nothing of the analysed code runs. With a cache directory
(the analysis cache's, unless ``--no-cache``) the answer is kept in
``environments/<hash of the interpreter path>.json`` with what it depends on: the
status (``st_mtime_ns``, size, inode) of the interpreter file, of ``pyvenv.cfg`` in
its prefix, of every ``sys.path`` directory (installing or removing a distribution or
a ``.pth`` file changes its directory) and of the ``.pth`` files in them (``site``
reads those at start-up). A later run reuses it only when all of them are unchanged,
which saves starting the interpreter (a tenth of a second on every ``pkg analyze``).
"""

from __future__ import annotations

import functools
import hashlib
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


def find_environment(
    python: Path | None, environ: Mapping[str, str], cache_dir: Path | None = None
) -> Located:
    """The user's environment (see the module docstring) given ``--python`` and the
    process environment ``environ``.

    Raises:
        InputError: ``python`` was given and does not run as a Python interpreter (an
            environment found by the other rules that does not run is skipped).
    """
    if python is not None:
        return Located("--python", _inspect_stored(str(python), cache_dir))
    candidates: list[tuple[str, str | None]] = [
        ("VIRTUAL_ENV", _prefix_python(environ.get("VIRTUAL_ENV"))),
        ("CONDA_PREFIX", _prefix_python(environ.get("CONDA_PREFIX"))),
        ("PATH", shutil.which("python3", path=environ.get("PATH", os.defpath))),
    ]
    for source, found in candidates:
        if found is None:
            continue
        try:
            return Located(source, _inspect_stored(found, cache_dir))
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


def _inspect_stored(python: str, cache_dir: Path | None) -> Environment:
    """:func:`_inspect_cached`, through the answer stored in ``cache_dir`` when what it
    depends on is unchanged (see the module docstring); ``cache_dir`` None: not stored.
    A relative interpreter path is made absolute first (the key names one file)."""
    python = os.path.abspath(python) if os.sep in python else python
    if cache_dir is None:
        return _inspect_cached(python, _mtime(python))
    store = cache_dir / "environments" / (hashlib.sha256(python.encode()).hexdigest() + ".json")
    try:
        data = json.loads(store.read_text(encoding="utf-8"))
        env = Environment(
            tuple(data["path"]), Path(data["prefix"]), data["version"], Path(data["executable"])
        )
        if data["python"] == python and data["stamps"] == _stamps(python, env):
            return env
    except (OSError, ValueError, KeyError, TypeError):
        pass
    env = inspect_environment(Path(python))  # something changed: ask it again
    record = {
        "python": python,
        "path": list(env.path),
        "prefix": str(env.prefix),
        "version": env.version,
        "executable": str(env.executable),
        "stamps": _stamps(python, env),
    }
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        tmp = store.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, store)
    except OSError:
        pass  # not stored: asked again next time
    return env


def _stamps(python: str, env: Environment) -> list[list[object]]:
    """What the answer for ``python`` depends on, as ``[path, mtime_ns, size, inode]``
    (``[path]`` for a path that does not exist)."""
    found = shutil.which(python) if os.sep not in python else python
    paths = [found or python, os.path.realpath(found or python), str(env.prefix / "pyvenv.cfg")]
    for entry in env.path:
        paths.append(entry)
        try:
            names = sorted(n for n in os.listdir(entry) if n.endswith(".pth"))
        except OSError:
            continue
        paths.extend(os.path.join(entry, n) for n in names)
    stamps: list[list[object]] = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            stamps.append([path])
            continue
        stamps.append([path, st.st_mtime_ns, st.st_size, st.st_ino])
    return stamps


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
