"""A cache of whole analysis results, each stored with what it was computed from.

The scan cache (:mod:`._cache`) saves parsing, but a warm analysis would still walk,
classify and resolve every import. This cache returns the previous
:class:`~pkgtool.analyzer.AnalysisResult` itself when nothing it depends on changed.

The key (64 hex digits) is the sha256 of a JSON document holding:

- :data:`RESULT_FORMAT` and :func:`result_fingerprint` (the scan cache's fingerprint:
  format, interpreter, analyzer sources; plus pkgtool's top-level modules, the analyzer's
  data files and the version of ``packaging``);
- every :class:`~pkgtool.analyzer.AnalyzeOptions` field except ``cache`` (paths made
  absolute, mappings and sets sorted), and the target ``(major, minor)``;
- the environment whose distributions give versions: ``sys.path``, ``sys.prefix``,
  version and executable of ``options.python``, else of the running interpreter;
- the inputs as given and as absolute paths, and the entry points
  :func:`._inputs.collect_entries` found in them (it runs on every analysis: a new
  file in an input directory, or a new project root or package, changes the key).

The value is the result in the JSON form of :mod:`._codec`, stored with its
*dependencies*, which every lookup checks again; any difference is a miss, and the
result computed then replaces the stored one:

1. ``files``: every file the walk read (entry scripts, local modules), absolute path ->
   sha256 of its bytes (or the read error). Files are read and hashed again, never
   trusted by mtime: a lookup costs about one read of every file, and no parsing.
2. ``listings``: every directory the local-module finder listed
   (:class:`._local.Listings`), absolute path -> sha256 of its names and their kinds.
   Negative answers are covered: a script's ``import github`` was external because
   ``github.py`` was missing from the listing of its directory; creating it changes the
   listing.
3. ``distributions``: :meth:`._resolve.DistributionIndex.fingerprint` (the names and
   ``stat()`` of the installed metadata and of ``conda-meta/*.json``), taken before the
   analysis reads any of it.

With ``options.freeze`` the cache is not used at all: the transitive dependencies come
from pipdeptree, run in a subprocess over installed state that no fingerprint here
covers. A result is not stored when a file changed while it was being analysed (read
twice with different bytes). Storage errors never fail an analysis (see :mod:`._cache`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import platform
import sys
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from pathlib import Path

import packaging

from pkgtool.analyzer._cache import ScanCache, fingerprint
from pkgtool.analyzer._codec import CodecError, decode, encode
from pkgtool.analyzer._environment import Environment
from pkgtool.analyzer._local import read_listing
from pkgtool.analyzer._model import AnalysisResult, AnalyzeOptions
from pkgtool.analyzer._notebook import read_bounded, source_of
from pkgtool.analyzer._walk import Entry

RESULT_FORMAT = 1
"""Version of the key, dependency and value layout of stored results."""


@dataclass
class ResultStats:
    """This process's result-cache lookups, for tests and benchmarks: results served
    (``hits``), none stored under the key (``misses``), stored but a dependency changed
    or the value is unusable (``stale``), results stored (``writes``), and analyses
    that did not use the cache because of ``freeze`` (``bypassed``)."""

    hits: int = 0
    misses: int = 0
    stale: int = 0
    writes: int = 0
    bypassed: int = 0


STATS = ResultStats()
"""The counters of every :class:`ResultCache` of this process."""


@functools.cache
def result_fingerprint() -> str:
    """sha256 (hex) of :func:`._cache.fingerprint`, :data:`RESULT_FORMAT`, the
    ``packaging`` version and the bytes of ``pkgtool/*.py`` and the analyzer's data."""
    digest = hashlib.sha256(fingerprint())
    digest.update(f"results {RESULT_FORMAT} packaging {packaging.__version__}\0".encode())
    analyzer = Path(__file__).parent
    try:
        files = [*analyzer.parent.glob("*.py"), *(analyzer / "data").iterdir()]
        for path in sorted(files):
            digest.update(f"{path.parent.name}/{path.name}\0".encode())
            digest.update(path.read_bytes() + b"\0")
    except OSError:  # sources not readable (a frozen app): the version stands for them
        from pkgtool import __version__

        digest.update(f"version {__version__}".encode())
    return digest.hexdigest()


def result_key(
    scripts: Sequence[Path],
    options: AnalyzeOptions,
    target: tuple[int, int],
    env: Environment | None,
    entries: Sequence[Entry],
) -> str:
    """The key (64 hex digits) of an analysis (see the module docstring).

    ``scripts`` are the inputs as given; ``target`` the resolved target version; ``env``
    the environment of ``options.python`` (None: the running interpreter);
    ``entries`` what :func:`._inputs.collect_entries` made of ``scripts``.
    """
    fields = {
        f.name: _plain(getattr(options, f.name))
        for f in dataclasses.fields(options)
        if f.name != "cache"
    }
    if env is not None:
        where = [list(env.path), str(env.prefix), env.version, str(env.executable)]
    else:
        where = [sys.path, sys.prefix, platform.python_version(), sys.executable]
    document = [
        RESULT_FORMAT,
        result_fingerprint(),
        fields,
        list(target),
        where,
        [[str(s), os.path.abspath(s)] for s in scripts],
        [
            [
                str(e.file),
                e.display,
                e.package,
                [str(r) for r in e.roots],
                None if e.search_dir is None else str(e.search_dir),
            ]
            for e in entries
        ],
    ]
    return hashlib.sha256(json.dumps(document).encode()).hexdigest()


def _plain(value: object) -> object:
    """An option value as JSON: paths absolute, mappings and sets sorted."""
    if isinstance(value, Path):
        return os.path.abspath(value)
    if isinstance(value, Mapping):
        return sorted([str(k), str(v)] for k, v in value.items())
    if isinstance(value, Set):
        return sorted(str(v) for v in value)
    return value


class HashingReader:
    """Reads source files for the scanner (:class:`._scanner.Scanner` ``read``) and
    remembers the sha256 of each file's bytes in ``digests`` (absolute path -> hex
    digest, or ``"error: ..."`` when it could not be read)."""

    def __init__(self) -> None:
        self.digests: dict[Path, str] = {}
        self.consistent = True  # False: a file gave different bytes on two reads

    def read(self, file: Path) -> bytes:
        """The Python source of ``file``, as :func:`._notebook.read_source` gives it.

        Raises:
            OSError: the file cannot be read.
            ScanError: a ``.ipynb`` file that is not a notebook.
        """
        try:
            data = read_bounded(file)
        except OSError as exc:
            self._remember(file, _error_digest(exc))
            raise
        self._remember(file, hashlib.sha256(data).hexdigest())
        return source_of(file, data)  # read_source's conversion, on the bytes just hashed

    def _remember(self, file: Path, digest: str) -> None:
        if self.digests.setdefault(file, digest) != digest:
            self.consistent = False


def file_digest(path: str) -> str:
    """sha256 (hex) of the bytes of ``path``, or ``"error: ..."`` (as HashingReader)."""
    try:
        data = read_bounded(Path(path))
    except OSError as exc:
        return _error_digest(exc)
    return hashlib.sha256(data).hexdigest()


def _error_digest(exc: OSError) -> str:
    return f"error: {exc.errno} {exc.strerror}"


def listing_digest(kinds: Mapping[str, str]) -> str:
    """sha256 (hex) of a directory listing (name -> kind, :func:`._local.read_listing`)."""
    text = "\0".join(sorted(kind + name for name, kind in kinds.items()))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


class ResultCache:
    """The stored result of one analysis ``key`` in ``db``.

    ``distributions`` is the :meth:`._resolve.DistributionIndex.fingerprint` taken
    before the analysis. :meth:`load` and :meth:`save` close ``db`` when done.
    """

    def __init__(self, db: ScanCache, key: str, distributions: str) -> None:
        self.db = db
        self.key = key
        self.distributions = distributions

    def load(self) -> AnalysisResult | None:
        """The stored result if all its dependencies are unchanged, else None."""
        row = self.db.get_result(self.key)
        self.db.close()
        if row is None:
            STATS.misses += 1
            return None
        dependencies, value = row
        result: object = None
        try:
            if self._fresh(json.loads(dependencies)):
                result = decode(value)
        except (CodecError, ValueError, TypeError, KeyError):
            result = None
        if not isinstance(result, AnalysisResult):
            STATS.stale += 1
            return None
        STATS.hits += 1
        return result

    def save(
        self,
        result: AnalysisResult,
        files: HashingReader,
        listings: Mapping[Path, Mapping[str, str]],
    ) -> None:
        """Store ``result`` with the files ``files`` read and the directory
        ``listings`` the finders used (not when a file changed during the analysis)."""
        if not files.consistent:
            return
        try:
            value = encode(result)
        except CodecError:
            return
        dependencies = {
            "distributions": self.distributions,
            "listings": sorted([str(d), listing_digest(k)] for d, k in listings.items()),
            "files": sorted([str(f), digest] for f, digest in files.digests.items()),
        }
        text = json.dumps(dependencies, separators=(",", ":"))
        if self.db.put_result(self.key, text, value):
            STATS.writes += 1
        self.db.close()

    def _fresh(self, dependencies: dict[str, object]) -> bool:
        """True if the stored dependencies are those of the file system now; the
        cheap checks first, and stop at the first difference."""
        if dependencies["distributions"] != self.distributions:
            return False
        listings = dependencies["listings"]
        files = dependencies["files"]
        if not isinstance(listings, list) or not isinstance(files, list):
            return False
        for directory, digest in listings:
            if listing_digest(read_listing(directory)) != digest:
                return False
        return all(file_digest(path) == digest for path, digest in files)
