"""Map an import name to the distribution that provides it, with version and installer.

The order (first answer wins):

1. the user's ``--pkg-mapping IMPORT=NAME`` entries;
2. the metadata of the distributions installed for the analysing interpreter: the
   import names each provides, from ``top_level.txt`` or else from the ``.py`` files in
   its ``RECORD`` (what :func:`importlib.metadata.packages_distributions` reads; the
   core metadata spec, "Recording installed projects");
3. the built-in table ``data/mapping.json`` of well-known mismatches (``yaml`` ->
   ``PyYAML``, ``sklearn`` -> ``scikit-learn``);
4. a guess: the distribution is named like the top-level import, except
   - under a top-level name whose table keys are all dotted portions of one distribution
     (``mistralai.client`` ...): that distribution;
   - under a shared namespace (dotted portions of two or more distributions and no entry
     of its own: ``google``, ``azure``, ``opentelemetry``), or a local namespace
     directory: an unknown ``google.colab.x`` would collapse to the unrelated ``google``
     distribution, so it stays unresolved (``distribution`` None, ``unresolved`` True)
     and is reported with a ``--pkg-mapping`` hint.

Dotted keys (``google.protobuf``) in 1 and 3 match by longest prefix. When several
installed distributions provide one import name, the one whose PEP 503 normalized name
equals the import name wins, then one whose files hold the imported submodule
(``google/protobuf/``), then the first by sorted name.

An installed distribution was installed by conda if its ``INSTALLER`` file says so
(PEP 376/627) or a ``conda-meta/*.json`` record of the interpreter's prefix owns its
``.dist-info`` directory; the conda package name and version then come from that record.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import metadata, resources
from pathlib import Path

from packaging.utils import NormalizedName, canonicalize_name

_VALID_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$", re.ASCII)
_DIST_INFO = re.compile(r"(?:^|/)site-packages/([^/]+?)-[^/-]*\.(?:dist-info|egg-info)(?:/|$)")
_METADATA_SUFFIXES = (".dist-info", ".egg-info")  # what importlib.metadata looks for
# Files of a metadata directory that importlib.metadata reads for the index: the core
# metadata, the file lists (RECORD; SOURCES.txt or installed-files.txt for eggs),
# top_level.txt and INSTALLER (PEP 376/627).
_METADATA_FILES = (
    "METADATA",
    "PKG-INFO",
    "RECORD",
    "SOURCES.txt",
    "installed-files.txt",
    "top_level.txt",
    "INSTALLER",
)


@dataclass(frozen=True)
class Installed:
    """An installed distribution: ``name`` as in its metadata, ``installer`` "pip" or
    "conda", and for conda the conda package ``conda_name``/``conda_version``."""

    name: str
    version: str
    installer: str
    conda_name: str | None = None
    conda_version: str | None = None


@dataclass(frozen=True)
class Resolution:
    """Where an import comes from.

    ``module`` is the import name the answer was found for (the top-level name, or a
    dotted prefix such as ``google.protobuf``); ``distribution`` None when no valid
    distribution name can be given; ``installed`` None when it is not installed here.
    """

    module: str
    distribution: str | None
    installed: Installed | None = None
    unresolved: bool = False
    conda_only: bool = False


@cache
def builtin_mapping() -> Mapping[str, str]:
    """The ``data/mapping.json`` table (format 2): import name (maybe dotted) -> distribution.

    Each entry of the file also says where its fact comes from (``source``: ``wheel``,
    ``docs`` or ``convention``; docs/mapping-sources.md); only the distribution is kept here.
    """
    text = resources.files("pkgtool.analyzer").joinpath("data/mapping.json").read_text("utf-8")
    data = json.loads(text)
    if data.get("format") != 2:
        raise ValueError(f"data/mapping.json: unsupported format {data.get('format')!r}")
    return {module: entry["distribution"] for module, entry in data["mapping"].items()}


@cache
def conda_only_names() -> frozenset[str]:
    """Table keys whose entries say ``"conda": true`` (conda-forge only, not on PyPI)."""
    text = resources.files("pkgtool.analyzer").joinpath("data/mapping.json").read_text("utf-8")
    data = json.loads(text)
    return frozenset(k for k, v in data["mapping"].items() if v.get("conda") is True)


def _longest_prefix(dotted: str, table: Mapping[str, str]) -> tuple[str, str] | None:
    if not table:
        return None
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        key = ".".join(parts[:end])
        if key in table:
            return key, table[key]
    return None


@cache
def _portions() -> dict[str, frozenset[str]]:
    """Top-level name without an entry of its own -> the distributions of its dotted keys."""
    table = builtin_mapping()
    found: dict[str, set[str]] = {}
    for key, distribution in table.items():
        top = key.split(".")[0]
        if "." in key and top not in table:
            found.setdefault(top, set()).add(distribution)
    return {top: frozenset(dists) for top, dists in found.items()}


@cache
def namespace_roots() -> frozenset[str]:
    """Top-level names of shared namespaces: the table has dotted keys below them from
    two or more distributions (``google.protobuf``, ``google.cloud.storage``;
    ``azure.storage.blob``, ``azure.identity``) and no entry for the name itself."""
    return frozenset(top for top, dists in _portions().items() if len(dists) > 1)


@cache
def sole_providers() -> dict[str, str]:
    """Top-level name -> the one distribution all its dotted keys name, for names without
    an entry of their own (``mistralai`` ships only portions: ``mistralai.client``...):
    an unknown submodule there is that distribution's."""
    return {top: next(iter(d)) for top, d in _portions().items() if len(d) == 1}


def is_valid_name(name: str) -> bool:
    """True if ``name`` is a valid distribution name (PEP 508 ``identifier``)."""
    return _VALID_NAME.match(name) is not None


@cache
def implied_table() -> Mapping[str, str]:
    """The ``data/implied.json`` table: module (dotted) -> a distribution that importing it
    needs besides its own (an extra, e.g. ``dask.distributed`` -> ``distributed``)."""
    text = resources.files("pkgtool.analyzer").joinpath("data/implied.json").read_text("utf-8")
    data = json.loads(text)
    if data.get("format") != 1:
        raise ValueError("analyzer/data/implied.json: unsupported format")
    return {k: str(v["distribution"]) for k, v in data["implied"].items()}


def implied_by(dotted: str) -> tuple[str, str] | None:
    """``(module, distribution)`` that importing ``dotted`` implies, by longest prefix."""
    return _longest_prefix(dotted, implied_table())


class DistributionIndex:
    """The distributions installed on ``path`` (default ``sys.path``) of ``prefix``.

    ``prefix`` is the environment root whose ``conda-meta/`` is consulted (default
    ``sys.prefix``). Everything is read lazily, once.
    """

    def __init__(self, path: Sequence[str] | None = None, prefix: Path | None = None) -> None:
        self._path = list(sys.path if path is None else path)
        self._prefix = Path(sys.prefix) if prefix is None else prefix
        self._dists: dict[NormalizedName, metadata.Distribution] | None = None
        self._top: dict[str, list[str]] | None = None
        self._conda: dict[NormalizedName, tuple[str, str]] | None = None
        # installed() parses METADATA and INSTALLER; once per distribution, not per import
        self._installed: dict[NormalizedName, Installed | None] = {}
        self._files: dict[str, list[metadata.PackagePath]] = {}  # RECORD, parsed once
        self._namespaces: dict[tuple[str, tuple[str, ...]], bool] = {}

    def fingerprint(self) -> str:
        """A digest (64 hex digits) of the installed state this index reads, from
        directory listings and ``stat()`` only, without reading metadata.

        It covers, for each path entry: whether it is a directory, then the names of
        its ``*.dist-info``/``*.egg-info`` entries (matched case-insensitively, as
        :mod:`importlib.metadata` does; ``EGG-INFO`` in an ``.egg``), each with the
        mode, inode, size, mtime and ctime of itself and of the metadata files in it;
        else the same ``stat()`` fields of the entry (a zip archive) or its absence;
        and the names and ``stat()`` fields of ``conda-meta/*.json`` in the prefix.
        Installing, removing or upgrading a distribution (even rewriting its ``RECORD``
        in place) changes it.
        """
        digest = hashlib.sha256(f"prefix {self._prefix}\0".encode(errors="surrogateescape"))
        for entry in self._path:
            root = entry or "."  # "" is the working directory, as for importlib
            names = _metadata_entries(root)
            kind = "directory" if os.path.isdir(root) else _stat_key(root)
            digest.update(f"path {entry}\0{kind}\0".encode(errors="surrogateescape"))
            for name in names:
                where = os.path.join(root, name)
                parts = [name, _stat_key(where)]
                parts.extend(_stat_key(os.path.join(where, f)) for f in _METADATA_FILES)
                digest.update("\0".join(parts).encode(errors="surrogateescape") + b"\n")
        meta = os.path.join(self._prefix, "conda-meta")
        try:
            records = sorted(n for n in os.listdir(meta) if n.endswith(".json"))
        except OSError:
            records = []
        for name in records:
            line = f"conda {name}\0{_stat_key(os.path.join(meta, name))}\n"
            digest.update(line.encode(errors="surrogateescape"))
        return digest.hexdigest()

    def distributions(self) -> dict[NormalizedName, metadata.Distribution]:
        """Normalized name -> distribution; the first one on the path wins."""
        if self._dists is None:
            self._dists = {}
            for dist in metadata.distributions(path=self._path):
                name = dist.metadata["Name"]
                if name:
                    self._dists.setdefault(canonicalize_name(name), dist)
        return self._dists

    def top_level(self) -> dict[str, list[str]]:
        """Import name -> sorted names of the installed distributions providing it."""
        if self._top is None:
            top: dict[str, set[str]] = {}
            for dist in self.distributions().values():
                for module in _provided(dist):
                    top.setdefault(module, set()).add(dist.metadata["Name"])
            self._top = {k: sorted(v, key=str.lower) for k, v in top.items()}
        return self._top

    def provides(self, name: str) -> bool:
        """True if an installed distribution provides the top-level import ``name``."""
        return name in self.top_level()

    def installed(self, distribution: str) -> Installed | None:
        """Version and installer of ``distribution`` if installed, else None."""
        key = canonicalize_name(distribution)
        if key not in self._installed:
            self._installed[key] = self._read_installed(key)
        return self._installed[key]

    def _read_installed(self, key: NormalizedName) -> Installed | None:
        dist = self.distributions().get(key)
        if dist is None:
            return None
        name = dist.metadata["Name"]
        conda = self._conda_packages().get(canonicalize_name(name))
        installer = (dist.read_text("INSTALLER") or "").strip().lower()
        if conda is not None:
            return Installed(name, dist.version, "conda", conda[0], conda[1])
        if installer == "conda":
            return Installed(name, dist.version, "conda", name.lower(), dist.version)
        return Installed(name, dist.version, "pip")

    def candidates(self, top: str, dotted: str) -> tuple[str, str] | None:
        """The installed distribution for an import: ``(module key, distribution)``."""
        table = self.top_level()
        names = table.get(top)
        if names is None:
            folded = {k.lower(): v for k, v in table.items()}
            names = folded.get(top.lower())
        if not names:
            return None
        parts = dotted.split(".")
        if len(parts) > 1 and self._namespace(top, names):
            return self._namespace_provider(parts, names)
        if len(names) == 1:
            return top, names[0]
        for name in names:
            if canonicalize_name(name) == canonicalize_name(top):
                return top, name
        if len(parts) > 1:
            for name in names:
                if self._has_files(name, parts[:2]):
                    return ".".join(parts[:2]), name
        return top, names[0]

    def _namespace(self, top: str, names: list[str]) -> bool:
        """True if the providers of ``top`` install files under ``top/`` but none ships
        ``top/__init__.py``: a namespace package (PEP 420) that several distributions
        share (``google``, ``mpl_toolkits``). Asked once per import name."""
        key = (top, tuple(names))
        if key not in self._namespaces:
            self._namespaces[key] = self._is_namespace(top, names)
        return self._namespaces[key]

    def _is_namespace(self, top: str, names: list[str]) -> bool:
        seen_files = False
        for name in names:
            for f in self._files_of(name):
                if len(f.parts) >= 2 and f.parts[0] == top:
                    seen_files = True
                    if len(f.parts) == 2 and f.name == "__init__.py":
                        return False
        return seen_files

    def _namespace_provider(self, parts: list[str], names: list[str]) -> tuple[str, str] | None:
        """The installed distribution of a module inside a namespace package, keyed by the
        first regular package or module on the way down (``google.protobuf``,
        ``google.cloud.storage``); None when no installed provider holds it, so that the
        table decides (protobuf's ``google/`` does not make ``google.cloud.storage``
        protobuf's)."""
        for depth in range(2, len(parts) + 1):
            for name in names:
                if self._path_kind(name, parts[:depth]) in ("package", "module"):
                    return ".".join(parts[:depth]), name
        for depth in range(len(parts), 1, -1):
            for name in names:
                if self._path_kind(name, parts[:depth]) == "directory":
                    return ".".join(parts[:depth]), name
        return None

    def _path_kind(self, distribution: str, parts: list[str]) -> str | None:
        """What ``distribution`` installed at the module path ``parts``: ``"package"``
        (with ``__init__.py``), ``"module"`` (``.py``/extension), ``"directory"`` or None."""
        n = len(parts)
        kind = None
        for f in self._files_of(distribution):
            if len(f.parts) > n and list(f.parts[:n]) == parts:
                if len(f.parts) == n + 1 and f.name == "__init__.py":
                    return "package"
                kind = "directory"
            elif (
                len(f.parts) == n
                and list(f.parts[:-1]) == parts[:-1]
                and f.name.split(".")[0] == parts[-1]
                and f.suffix in (".py", ".so", ".pyd")
            ):
                return "module"
        return kind

    def _has_files(self, distribution: str, parts: list[str]) -> bool:
        files = self._files_of(distribution)
        return any(
            tuple(f.parts[:2]) == tuple(parts) or (f.parts[0] == parts[0] and f.stem == parts[1])
            for f in files
            if len(f.parts) >= 2
        )

    def _files_of(self, distribution: str) -> list[metadata.PackagePath]:
        """The files ``distribution`` installed (empty if unknown); importlib.metadata
        parses RECORD again on every ``Distribution.files``, so this keeps them."""
        if distribution not in self._files:
            dist = self.distributions().get(canonicalize_name(distribution))
            self._files[distribution] = (dist.files or []) if dist is not None else []
        return self._files[distribution]

    def _conda_packages(self) -> dict[NormalizedName, tuple[str, str]]:
        """Normalized Python distribution (or package) name -> (conda name, version)."""
        if self._conda is None:
            self._conda = {}
            meta = self._prefix / "conda-meta"
            for record in sorted(meta.glob("*.json")) if meta.is_dir() else []:
                try:
                    data = json.loads(record.read_text("utf-8"))
                    name, version = str(data["name"]), str(data["version"])
                except (OSError, ValueError, KeyError, TypeError):
                    continue
                self._conda.setdefault(canonicalize_name(name), (name, version))
                for path in data.get("files") or []:
                    match = _DIST_INFO.search(str(path))
                    if match:
                        self._conda[canonicalize_name(match.group(1))] = (name, version)
        return self._conda


def _metadata_entries(root: str) -> list[str]:
    """Sorted names in directory ``root`` that importlib.metadata takes as metadata."""
    try:
        names = os.listdir(root)
    except OSError:
        return []
    egg = root.lower().endswith(".egg")
    return sorted(
        n
        for n in names
        if n.lower().endswith(_METADATA_SUFFIXES) or (egg and n.lower() == "egg-info")
    )


def _stat_key(path: str) -> str:
    """``"mode inode size mtime_ns ctime_ns"`` of ``path``, ``"-"`` if it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{st.st_mode:o} {st.st_ino} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns}"


def _provided(dist: metadata.Distribution) -> set[str]:
    """Top-level import names of ``dist`` (top_level.txt, else inferred from RECORD)."""
    declared = (dist.read_text("top_level.txt") or "").split()
    if declared:
        return {name.replace("/", ".").split(".")[0] for name in declared}
    inferred: set[str] = set()
    for f in dist.files or []:
        if ".." in f.parts:
            continue
        if len(f.parts) > 1 and f.suffix == ".py":
            inferred.add(f.parts[0])
        elif len(f.parts) == 1 and f.suffix in (".py", ".so", ".pyd"):
            inferred.add(f.name.split(".")[0])
    return inferred


class Resolver:
    """Resolve dotted import names to :class:`Resolution` (see the module docstring)."""

    def __init__(self, index: DistributionIndex, user_mapping: Mapping[str, str]) -> None:
        self.index = index
        self.user_mapping = dict(user_mapping)
        self.table = builtin_mapping()
        self._resolved: dict[tuple[str, bool], Resolution] = {}  # asked about often
        self.namespaces = namespace_roots()

    def user_choice(self, dotted: str) -> Resolution | None:
        """The ``--pkg-mapping`` answer for ``dotted``, if any."""
        hit = _longest_prefix(dotted, self.user_mapping)
        return None if hit is None else self._with_install(hit[0], hit[1])

    def resolve(self, dotted: str, namespace: bool = False) -> Resolution:
        """The distribution providing the (absolute, dotted) module ``dotted``;
        ``namespace``: its top-level name is known to be a namespace package (a local
        PEP 420 directory holds other portions of it), so the guess is never taken."""
        key = (dotted, namespace)
        if key not in self._resolved:
            self._resolved[key] = self._resolve(dotted, namespace)
        return self._resolved[key]

    def _resolve(self, dotted: str, namespace: bool = False) -> Resolution:
        user = self.user_choice(dotted)
        if user is not None:
            return user
        top = dotted.split(".")[0]
        found = self.index.candidates(top, dotted)
        if found is None:
            found = _longest_prefix(dotted, self.table)
        if found is None and not namespace and top in sole_providers():
            found = (top, sole_providers()[top])
        if found is None and (namespace or top in self.namespaces):
            parts = dotted.split(".")
            return Resolution(".".join(parts[:2]), None, unresolved=True)
        if found is None:
            found = (top, top)
        module, distribution = found
        if not is_valid_name(distribution):
            return Resolution(module, None)
        resolution = self._with_install(module, distribution)
        if module in conda_only_names() and resolution.installed is None:
            return Resolution(module, distribution, None, conda_only=True)
        return resolution

    def _with_install(self, module: str, distribution: str) -> Resolution:
        installed = self.index.installed(distribution)
        name = installed.name if installed is not None else distribution
        return Resolution(module, name, installed)
