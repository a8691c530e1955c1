"""Version skew between an archive and a client environment (``pkg check-client``).

A driver and the workers it starts from an archive (Dask, Parsl, Ray, submitit) exchange
pickled functions and protocol messages: they must run the same versions of the engine's
distributions and of cloudpickle, and the same Python minor version, or tasks fail (Dask
documents version mismatches as a common cause of errors). :func:`check_client` compares the
distributions of :data:`MUST_AGREE` that both the archive's lock (in its manifest) and the
client's Python have, and the Python minor versions; a distribution only one side has is not
compared (the client may not use that engine).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pkgtool.errors import InputError
from pkgtool.inspection import read_manifest

MUST_AGREE = ("cloudpickle", "dask", "distributed", "parsl", "ray")
"""Distributions whose versions a client and its workers must share (canonical names)."""

CONDA_ALIASES = {"dask-core": "dask", "ray-core": "ray"}
"""conda-forge packages that install these distributions under another package name."""

_PROBE = (
    "import importlib.metadata as m, json, sys; "
    "print(json.dumps([sys.version.split()[0], "
    "[[d.metadata['Name'], d.version] for d in m.distributions()]]))"
)


@dataclass(frozen=True)
class Pair:
    """One compared distribution (``python``: the minor version): ``archive`` and
    ``client`` versions."""

    name: str
    archive: str
    client: str

    @property
    def agree(self) -> bool:
        return _same(self.archive, self.client)


@dataclass(frozen=True)
class SkewReport:
    """What :func:`check_client` compared, python first, then by name."""

    archive: str
    client: str
    pairs: tuple[Pair, ...]

    @property
    def mismatches(self) -> tuple[Pair, ...]:
        return tuple(p for p in self.pairs if not p.agree)


def check_client(archive: Path, python: Path) -> SkewReport:
    """Compare ``archive`` (its manifest's lock) with the environment of the interpreter
    ``python`` (its installed distributions, as ``importlib.metadata`` sees them when it
    runs, ``PYTHONPATH`` included).

    Raises:
        InputError: the archive has no readable manifest or lock, or ``python`` does not run.
    """
    manifest = read_manifest(archive)
    archive_python, archive_dists = _archive_versions(manifest, archive)
    client_python, client_dists = _client_versions(python)
    pairs = [Pair("python", _minor(archive_python), _minor(client_python))]
    for name in MUST_AGREE:
        if name in archive_dists and name in client_dists:
            pairs.append(Pair(name, archive_dists[name], client_dists[name]))
    return SkewReport(str(archive), str(python), tuple(pairs))


def _archive_versions(manifest: dict[str, Any], archive: Path) -> tuple[str, dict[str, str]]:
    lock = manifest.get("lock")
    python = manifest.get("python")
    if not isinstance(lock, dict) or not isinstance(python, str):
        raise InputError(
            f"{archive}'s manifest has no lock or python version",
            hint="rebuild the archive with this pkgtool (pkg create)",
        )
    versions: dict[str, str] = {}
    for installer in ("conda", "pip"):  # pip last: it wins, as in the environment
        for entry in lock.get(installer) or []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                name = canonicalize_name(entry["name"])
                versions[CONDA_ALIASES.get(name, name)] = str(entry.get("version", ""))
    return python, versions


def _client_versions(python: Path) -> tuple[str, dict[str, str]]:
    try:
        proc = subprocess.run(
            [str(python), "-c", _PROBE], capture_output=True, text=True, check=False,
            cwd="/", timeout=120,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(
            f"cannot run the client python {python}: {exc}",
            hint="pass the interpreter that runs the client (e.g. .venv/bin/python)",
        ) from exc
    try:
        version, dists = json.loads(proc.stdout)
    except ValueError:
        version = None
    if proc.returncode != 0 or not isinstance(version, str):
        raise InputError(
            f"the client python {python} did not report its distributions "
            f"(exit status {proc.returncode}): {proc.stderr.strip()[-200:]}",
            hint="pass a Python >= 3.8 interpreter that runs the client",
        )
    found: dict[str, str] = {}
    for name, dist_version in dists:
        found.setdefault(canonicalize_name(name), dist_version)  # first on sys.path wins
    return version, found


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _same(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b
