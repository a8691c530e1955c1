"""A local ``file://`` conda channel built from real software, for sites without conda channels.

The ``python`` package comes from a local CPython installation
(:func:`python_package`, recipe in :mod:`pkgtool.builder._pypkg`); every other package
from a wheel of the package index (:func:`download_wheels`, :func:`wheel_package`, rules in
:mod:`pkgtool.builder._wheelpkg`). :func:`build_channel` puts them in
``<channel>/{linux-64,noarch}/`` and indexes them with rattler (``repodata.json``, through
:mod:`pkgtool.builder._rattler`). Nothing is cached here: callers cache whole channels.

Layout of a channel (conda docs, "Channels and generating an index")::

    <channel>/linux-64/python-3.11.7-h1a2b3c4d_0_cpython.conda
    <channel>/linux-64/numpy-2.4.6-py311h5e6f7a8b_0.conda
    <channel>/linux-64/repodata.json
    <channel>/noarch/six-1.17.0-pyh9c0d1e2f_0.conda
    <channel>/noarch/repodata.json
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from pkgtool.builder import _rattler
from pkgtool.builder._pypkg import (
    InterpreterError,
    InterpreterInfo,
    find_patchelf,
    inspect_interpreter,
    python_package,
)
from pkgtool.builder._wheelpkg import wheel_package
from pkgtool.errors import ResolutionError

_SAVED = re.compile(r"^\s*(?:Saved|File was already downloaded)\s+(\S.*\.whl)\s*$")
_NOT_FOUND = re.compile(r"No matching distribution found for (.+?)\s*$", re.MULTILINE)


def download_wheels(requirements: Sequence[str], dest: Path, python_version: str) -> list[Path]:
    """Download wheels for ``requirements`` and their dependencies into ``dest``.

    Runs ``python -m pip download --only-binary=:all: --dest DEST --python-version X.Y ...``
    with this interpreter's pip, so the user's pip configuration (index URL, proxies) applies.
    Wheels already in ``dest`` are reused by pip. ``python_version`` is ``"3.11"`` or
    ``"3.11.7"``. Returns the absolute paths of the wheels of this resolution, sorted.

    Raises:
        ResolutionError: pip cannot find or resolve a requirement (named in the message).
    """
    dest = Path(dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    if not requirements:
        return []
    cmd = [
        sys.executable, "-m", "pip", "download", "--only-binary=:all:",
        "--dest", str(dest), "--python-version", python_version,
        "--no-input", "--disable-pip-version-check", "--progress-bar", "off",
        *requirements,
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    proc = subprocess.run(
        cmd,
        cwd=dest,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        missing = _NOT_FOUND.search(proc.stderr)
        what = missing.group(1) if missing else ", ".join(requirements)
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ResolutionError(
            f"pip cannot download a wheel for {what} (python {python_version}): {last}",
            hint="check the name and version, that a wheel exists for this python and "
            "platform (--only-binary=:all:), and the pip index configuration",
        )
    found = {
        (dest / match.group(1)).resolve()
        for line in proc.stdout.splitlines()
        if (match := _SAVED.match(line))
    }
    return sorted(found)


def build_channel(channel_dir: Path, interpreter: Path, wheels: Sequence[Path] = ()) -> str:
    """Build a local channel in ``channel_dir``: python from ``interpreter``, plus ``wheels``.

    ``interpreter`` may be a venv's python (its base installation is packaged). Creates
    ``channel_dir/linux-64`` and ``channel_dir/noarch`` (both always exist, so the channel
    is valid even without noarch packages), writes the packages and ``repodata.json``.
    Returns the channel's ``file://`` URL (absolute, resolved).

    Raises:
        InterpreterError: the interpreter cannot be made relocatable.
        InputError: a wheel is unreadable or built for another python or platform.
        BuildError: indexing failed.
    """
    channel_dir = Path(channel_dir)
    info = inspect_interpreter(Path(interpreter))
    for subdir in (info.subdir, "noarch"):
        (channel_dir / subdir).mkdir(parents=True, exist_ok=True)
    python_package(info, channel_dir)
    for wheel in wheels:
        wheel_package(Path(wheel), channel_dir, info.version)
    _rattler.index_channel(channel_dir)
    return channel_dir.resolve().as_uri()


__all__ = [
    "InterpreterError",
    "InterpreterInfo",
    "build_channel",
    "download_wheels",
    "find_patchelf",
    "inspect_interpreter",
    "python_package",
    "wheel_package",
]
