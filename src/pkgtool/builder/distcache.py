"""The pip layer's per-distribution build cache: bytecode and compressed archive parts.

After the pip layer is installed, each distribution it added is known by its installed
``RECORD`` (PEP 376 / PEP 627: every installed file with its sha256, written by the
installer). What the builder then spends time on for a distribution is deterministic given
those files, the environment's python and the staging prefix: compiling its bytecode (the
``.pyc`` files embed the source's path and depend on the python build) and compressing its
files into the archive. Both are kept per distribution, so a rebuild that adds or bumps one
requirement compiles and compresses only what changed.

An entry ``<cache>/<key>/`` holds::

    bytecode/<path relative to the prefix>.pyc   the distribution's compiled files
    bytecode.json                                   their paths and sha256 (the entry is
                                                    complete; checked on every use)
    parts/                                          compressed archive parts (see
                                                    :class:`pkgtool.builder._pack.LayerPart`)

Its key (:func:`distribution_key`) covers the bytes of the ``RECORD`` (hence every installed
file's sha256), the file the lock installed it from (sha256), the staging prefix, the conda
layer (which decides the python), and the versions of pkgtool and conda-pack. A file that
two distributions' ``RECORD`` files both name belongs to neither (it is packed with the rest
of the environment), so an entry never holds bytes another distribution overwrote.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from pkgtool import __version__
from pkgtool.builder.cache import Pending, file_sha256, touch
from pkgtool.builder.lock import PipDistribution

_NORMALIZE = re.compile(r"[-_.]+")


@dataclass(frozen=True)
class InstalledDistribution:
    """One distribution the pip layer installed: ``name`` (PEP 503 normalized),
    ``files`` (paths relative to the prefix, sorted: its ``RECORD`` rows that exist, are
    inside the prefix, were added by the pip layer and no other ``RECORD`` names) and
    ``key`` (:func:`distribution_key`), the name of its cache entry."""

    name: str
    files: tuple[str, ...]
    key: str

    def sources(self) -> list[str]:
        """Its ``.py`` files (relative to the prefix)."""
        return [f for f in self.files if f.endswith(".py")]


def normalize(name: str) -> str:
    """PEP 503 normalized distribution name: ``PyYAML`` -> ``pyyaml``."""
    return _NORMALIZE.sub("-", name).lower()


def installed_distributions(
    prefix: Path,
    site_packages: Path,
    added: Collection[str],
    locked: Iterable[PipDistribution],
    conda_key: str,
) -> list[InstalledDistribution]:
    """The distributions whose ``*.dist-info/RECORD`` is among ``added`` (paths relative to
    ``prefix`` that the pip layer created), sorted by name.

    ``site_packages`` is the absolute purelib directory (RECORD paths are relative to it);
    ``locked`` gives each distribution's file sha256 for its key; ``conda_key`` is
    :meth:`pkgtool.builder.lock.Lock.conda_key`.
    """
    site = os.path.relpath(site_packages, prefix)
    shas = {normalize(d.name): d.sha256 for d in locked}
    records: dict[str, tuple[bytes, list[str]]] = {}
    for rel in sorted(added):
        head, name = os.path.split(rel)
        if name != "RECORD" or not head.endswith(".dist-info") or os.path.dirname(head) != site:
            continue
        data = (prefix / rel).read_bytes()
        dist = normalize(os.path.basename(head)[: -len(".dist-info")].split("-")[0])
        records[dist] = (data, _record_paths(data, site, added))
    owners: dict[str, int] = {}
    for _, paths in records.values():
        for path in paths:
            owners[path] = owners.get(path, 0) + 1
    out = []
    for dist, (data, paths) in sorted(records.items()):
        files = tuple(sorted(p for p in paths if owners[p] == 1))
        key = distribution_key(data, shas.get(dist, ""), prefix, conda_key)
        out.append(InstalledDistribution(dist, files, key))
    return out


def distribution_key(record: bytes, sha256: str, prefix: Path, conda_key: str) -> str:
    """sha256 hex of what decides a distribution's bytecode and archive part bytes: its
    ``RECORD`` bytes, its locked file's ``sha256``, the staging ``prefix``, the conda layer
    (``conda_key``), and the versions of pkgtool and conda-pack."""
    parts = [
        "distribution", __version__, metadata.version("conda-pack"), conda_key, str(prefix),
        sha256, hashlib.sha256(record).hexdigest(),
    ]  # fmt: skip
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _record_paths(data: bytes, site: str, added: Collection[str]) -> list[str]:
    """The RECORD's paths relative to the prefix (RECORD rows are relative to
    site-packages, ``../../../bin/x`` for scripts), kept when the pip layer added them."""
    out = []
    for row in csv.reader(data.decode("utf-8").splitlines()):
        if not row or not row[0] or os.path.isabs(row[0]):
            continue
        path = os.path.normpath(os.path.join(site, row[0]))
        if path in added:
            out.append(path)
    return out


def _bytecode_of(prefix: Path, sources: Sequence[str]) -> list[str]:
    """The ``__pycache__/<stem>.<tag>.pyc`` files (PEP 3147, default optimization level)
    present for ``sources``, relative to ``prefix``."""
    listed: dict[str, list[str]] = {}
    out = []
    for source in sources:
        directory, name = os.path.split(source)
        cache = os.path.join(directory, "__pycache__")
        if cache not in listed:
            try:
                listed[cache] = os.listdir(prefix / cache)
            except OSError:
                listed[cache] = []
        stem = name[: -len(".py")] + "."
        for pyc in listed[cache]:
            tag = pyc[len(stem) : -len(".pyc")]
            if pyc.startswith(stem) and pyc.endswith(".pyc") and tag and "." not in tag:
                out.append(os.path.join(cache, pyc))
    return out


def restore_bytecode(
    prefix: Path, dists: Sequence[InstalledDistribution], root: Path, warn: Callable[[str], None]
) -> set[str]:
    """Hard-link (or copy) the cached bytecode of ``dists`` into ``prefix`` from the entries
    under ``root``; return the sources (relative to ``prefix``) it covers. Distributions
    without a complete entry are left to be compiled; an entry whose ``bytecode.json`` is
    not ``{path: sha256}`` of its files is reported through ``warn`` (a ``warning:`` line),
    removed, and compiled again."""
    covered: set[str] = set()
    for dist in dists:
        entry = root / dist.key[:32]
        if not entry.is_dir():
            continue
        problem = _bytecode_problem(entry)
        if problem is not None:
            warn(f"warning: build cache entry pip-dists/{entry.name} is damaged ({problem}); "
                 "rebuilding it")  # fmt: skip
            shutil.rmtree(entry, ignore_errors=True)
            continue
        for pyc in json.loads((entry / "bytecode.json").read_text(encoding="utf-8")):
            target = prefix / pyc
            target.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(entry / "bytecode" / pyc, target)
        covered.update(dist.sources())
        touch(entry)
    return covered


def _bytecode_problem(entry: Path) -> str | None:
    try:
        pycs = json.loads((entry / "bytecode.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "bytecode.json is missing or not JSON"
    if not isinstance(pycs, dict) or not all(isinstance(v, str) for v in pycs.values()):
        return "bytecode.json is not a record of sha256"
    for pyc, digest in sorted(pycs.items()):
        path = entry / "bytecode" / pyc
        if os.path.normpath(pyc).startswith("..") or os.path.isabs(pyc):
            return f"bytecode.json names {pyc}"
        try:
            if file_sha256(path) != digest:
                return f"{pyc} changed"
        except OSError:
            return f"{pyc} is missing"
    return None


def store_bytecode(
    prefix: Path, dists: Sequence[InstalledDistribution], root: Path, entries: Pending
) -> dict[str, Path]:
    """Keep the bytecode just compiled in ``prefix`` for each of ``dists`` that has no entry
    yet, as pending entries of ``entries`` (committed when the build succeeded). Returns
    where each distribution's entry is now (by key): the pending directory or the entry."""
    homes: dict[str, Path] = {}
    for dist in dists:
        entry = root / dist.key[:32]
        if (entry / "bytecode.json").is_file():
            homes[dist.key] = entry
            continue
        pycs = _bytecode_of(prefix, dist.sources())
        work = entries.new(entry)
        for pyc in pycs:
            target = work / "bytecode" / pyc
            target.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(prefix / pyc, target)
        digests = {pyc: file_sha256(work / "bytecode" / pyc) for pyc in sorted(pycs)}
        (work / "bytecode.json").write_text(json.dumps(digests), encoding="utf-8")
        homes[dist.key] = work
    return homes


def part_files(prefix: Path, dist: InstalledDistribution) -> frozenset[str]:
    """What ``dist``'s archive part holds: its files and their bytecode (relative paths)."""
    return frozenset(dist.files) | frozenset(_bytecode_of(prefix, dist.sources()))


def entry_of(dist: InstalledDistribution, root: Path) -> Path:
    """The cache entry directory of ``dist`` under ``root``."""
    return root / dist.key[:32]


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
