"""The Python environment whose installed distributions answer "which version?".

By default that is the interpreter running pkgtool. ``pkg analyze --python PYTHON`` names
another one (the user's project venv or conda env, when pkgtool itself lives in a pipx
venv): it is asked once, in a subprocess with ``-I``, for its ``sys.path``,
``sys.prefix`` and version. Nothing of the analysed code runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
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
