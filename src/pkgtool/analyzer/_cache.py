"""A persistent cache of per-file scan results, keyed by content hash; the same
database also holds whole analysis results (:mod:`._results`).

Scanning a file (:mod:`._scan`) depends only on its bytes, the :class:`Target` it is
read for, the scan function and the code of the analyzer. The cache maps

    key = sha256(fingerprint, scan function, target fields, sha256(file bytes))

to the scan result in the JSON form of :mod:`._codec` (an exception such as a
``ScanError`` is stored too, so a file that does not parse is not parsed again).
``fingerprint`` covers :data:`CACHE_FORMAT`, the analysing interpreter (its parser
decides what parses) and the bytes of the analyzer's own source files, so editing or
upgrading pkgtool invalidates everything; nothing else ever does, and a changed file
simply gets a new key. Paths and mtimes are not part of the key: a copied or touched
file still hits.

Storage is one SQLite database (stdlib :mod:`sqlite3`) in :func:`default_cache_dir`
with two tables, ``scans`` (key -> value) and ``results`` (key -> dependencies, value;
their keys and dependencies are :mod:`._results`' business), in WAL mode so concurrent
analyses read while one writes (SQLite, "Write-Ahead Logging"). The cache is an
accelerator only: a database that is missing, locked, unwritable or corrupt never fails
an analysis. A corrupt one (SQLite says "not a database" or "malformed") or one larger
than :data:`MAX_BYTES` is deleted and rebuilt; any other error turns the cache off for
the rest of the run (``stats.error`` says why).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import sqlite3
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pkgtool.analyzer._conditions import Target

CACHE_FORMAT = 1
"""Version of the key and value layout; bump it when either changes."""

ENV_DIR = "PKG_ANALYZE_CACHE_DIR"
"""Environment variable naming the cache directory (tests point it at a tmp dir)."""

MAX_BYTES = 256 * 1024 * 1024
"""Size in bytes above which the database is dropped and started again (a crude bound
on growth: about 100,000 cached files at 2-3 KiB each)."""

_BATCH = 500  # keys per SELECT: below SQLITE_MAX_VARIABLE_NUMBER (999 before 3.32)
_TIMEOUT = 2.0  # seconds to wait for another process's write lock


def default_cache_dir() -> Path:
    """``$PKG_ANALYZE_CACHE_DIR``, else ``${XDG_CACHE_HOME:-~/.cache}/pkgtool/analyze``.

    The XDG Base Directory Specification names ``$XDG_CACHE_HOME`` (default
    ``~/.cache``) for user-specific non-essential data. The path may not exist yet.
    """
    explicit = os.environ.get(ENV_DIR)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pkgtool" / "analyze"


@functools.cache
def fingerprint() -> bytes:
    """sha256 of the cache format, the interpreter, and the analyzer's source files."""
    digest = hashlib.sha256(f"pkgtool-scan-cache {CACHE_FORMAT}\0".encode())
    digest.update(f"{sys.implementation.name} {sys.version}\0".encode())
    here = Path(__file__).parent
    try:
        for path in sorted(here.glob("*.py")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    except OSError:  # sources not readable (a frozen app): fall back to the version
        from pkgtool import __version__

        digest.update(f"version {__version__}".encode())
    return digest.digest()


def scan_key(content: bytes, target: Target, scanner: str) -> str:
    """The cache key (64 hex digits) of a file's sha256 ``content`` digest.

    ``scanner`` names the scan function (``module.qualname``); every field of
    ``target`` counts, so a field added to :class:`Target` is in the key without edits.
    """
    digest = _key_prefix(target, scanner).copy()
    digest.update(content)
    return digest.hexdigest()


@functools.lru_cache(maxsize=64)
def _key_prefix(target: Target, scanner: str) -> hashlib._Hash:
    fields = json.dumps(dataclasses.astuple(target))
    digest = hashlib.sha256(fingerprint())
    digest.update(f"{scanner}\0{fields}\0".encode())
    return digest


@dataclass
class CacheStats:
    """What one :class:`ScanCache` did: files found (``hits``), not found (``misses``),
    values stored (``writes``), and the last error that disabled or reset it."""

    hits: int = 0
    misses: int = 0
    writes: int = 0
    error: str | None = None


class ScanCache:
    """The cache database in ``directory`` (created on first use): scan results
    (:meth:`get_many`, :meth:`put_many`) and analysis results (:meth:`get_result`,
    :meth:`put_result`).

    Values are JSON texts (:mod:`._codec`); this class does not look inside them.
    Call :meth:`close` when done (the connection is opened on first use, and again
    after :meth:`close`).
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / f"scans-v{CACHE_FORMAT}.sqlite3"
        self.stats = CacheStats()
        self._conn: sqlite3.Connection | None = None
        self._disabled = False

    @classmethod
    def from_env(cls) -> ScanCache:
        """The cache in :func:`default_cache_dir`."""
        return cls(default_cache_dir())

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        """The stored values of those ``keys`` that are present."""
        found: dict[str, str] = {}
        conn = self._connection()
        if conn is None:
            self.stats.misses += len(keys)
            return found
        unique = list(dict.fromkeys(keys))
        try:
            for start in range(0, len(unique), _BATCH):
                chunk = unique[start : start + _BATCH]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT key, value FROM scans WHERE key IN ({marks})", chunk)
                found.update((str(k), str(v)) for k, v in rows)
        except sqlite3.Error as exc:
            self._fail(exc)
            found = {}
        hits = sum(1 for k in keys if k in found)
        self.stats.hits += hits
        self.stats.misses += len(keys) - hits
        return found

    def put_many(self, items: Iterable[tuple[str, str]]) -> None:
        """Store ``(key, value)`` pairs in one transaction (errors are ignored)."""
        rows = list(items)
        conn = self._connection() if rows else None
        if conn is None:
            return
        try:
            with conn:
                conn.executemany("INSERT OR REPLACE INTO scans (key, value) VALUES (?, ?)", rows)
            self.stats.writes += len(rows)
        except sqlite3.Error as exc:
            self._fail(exc)

    def get_result(self, key: str) -> tuple[str, str] | None:
        """``(dependencies, value)`` stored for an analysis ``key``, or None."""
        conn = self._connection()
        if conn is None:
            return None
        try:
            row = conn.execute("SELECT deps, value FROM results WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            self._fail(exc)
            return None
        return None if row is None else (str(row[0]), str(row[1]))

    def put_result(self, key: str, dependencies: str, value: str) -> bool:
        """Store an analysis result, replacing the one stored for ``key``; False if
        that failed (the error is not raised)."""
        conn = self._connection()
        if conn is None:
            return False
        try:
            with conn:
                conn.execute(
                    "INSERT OR REPLACE INTO results (key, deps, value) VALUES (?, ?, ?)",
                    (key, dependencies, value),
                )
        except sqlite3.Error as exc:
            self._fail(exc)
            return False
        return True

    def close(self) -> None:
        """Close the database connection (the cache can be used again afterwards)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is None and not self._disabled:
            try:
                self._conn = self._open()
            except (OSError, sqlite3.Error) as exc:
                if _is_corrupt(exc) and self._discard():
                    self.stats.error = f"rebuilt corrupt cache: {exc}"
                    try:
                        self._conn = self._open()
                        return self._conn
                    except (OSError, sqlite3.Error) as again:
                        exc = again
                self._disabled = True
                self.stats.error = f"cache disabled: {exc}"
        return self._conn

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if self.path.stat().st_size > MAX_BYTES:
                self._discard()
        except FileNotFoundError:
            pass
        conn = sqlite3.connect(str(self.path), timeout=_TIMEOUT, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS scans (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
                " WITHOUT ROWID"
            )
            conn.execute(  # values of 1 MB and more: a rowid table keeps them out of the index
                "CREATE TABLE IF NOT EXISTS results"
                " (key TEXT PRIMARY KEY, deps TEXT NOT NULL, value TEXT NOT NULL)"
            )
        except BaseException:
            conn.close()
            raise
        conn.isolation_level = "DEFERRED"  # `with conn:` makes put_many one transaction
        return conn

    def _fail(self, exc: sqlite3.Error) -> None:
        """Turn the cache off after a query error; delete the database if corrupt."""
        self.close()
        self._disabled = True
        if _is_corrupt(exc):
            self._discard()
            self.stats.error = f"deleted corrupt cache: {exc}"
        else:
            self.stats.error = f"cache disabled: {exc}"

    def _discard(self) -> bool:
        """Delete the database and its WAL files; True if that worked."""
        self.close()
        try:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        except OSError:
            return False
        return True


def _is_corrupt(exc: BaseException) -> bool:
    """True for SQLite's "not a database" / "malformed" errors (not locks or I/O)."""
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError)
