"""Scan many files fast: from the scan cache when the bytes were seen before, else in
a process pool when there are many of them.

The walker (:mod:`._walk`) asks for one file at a time, breadth-first. Its entry files
are known up front, so :meth:`Scanner.prefetch` reads them all, looks their content
hashes up in the cache (:mod:`._cache`) in a few queries, and parses the misses: in
worker processes (:class:`concurrent.futures.ProcessPoolExecutor`, :data:`CHUNK` files
per task) when at least :data:`PARALLEL_MIN_FILES` miss and more than one CPU is
usable, else in this process. Local modules found later are scanned on demand. Results
cross the process boundary and the cache in the JSON form of :mod:`._codec`, which
round-trips exactly, so the walk sees the same values however a file was scanned; the
order of the walk never depends on which file finished first. If a process pool cannot
be started (no ``/dev/shm``, a daemonic process) or breaks, the remaining files are
scanned serially.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from pkgtool.analyzer._cache import ScanCache, scan_key
from pkgtool.analyzer._codec import CodecError, decode, encode
from pkgtool.analyzer._conditions import Target
from pkgtool.analyzer._notebook import read_source
from pkgtool.analyzer._scan import FileScan, ScanError, scan_source

PARALLEL_MIN_FILES = 64
"""Files to parse below which a process pool costs more than it saves."""

CHUNK = 32
"""Files per pool task: large enough to amortise pickling, small enough to balance."""

ScanFunction = Callable[[bytes, str, Target], FileScan]
"""``(file bytes, display name, target) -> FileScan``, raising ScanError."""

_Outcome = FileScan | BaseException  # what scanning one file gave


@dataclass
class ScanStats:
    """Files this scanner parsed itself (``parsed``) and in worker processes
    (``pooled``), and why a process pool was given up, if it was."""

    parsed: int = 0
    pooled: int = 0
    pool_error: str | None = None


@dataclass
class _Job:
    file: Path
    display: str
    target: Target
    source: bytes
    key: str


@dataclass
class Scanner:
    """Scan files for one analysis, through ``cache`` (None: no cache).

    ``read`` gives a file's source bytes (raising OSError, or ScanError for a broken
    notebook); ``workers`` caps the worker processes (None: the usable CPUs; 1: never a pool);
    ``parallel_min`` is the number of uncached files from which a pool is used (None:
    :data:`PARALLEL_MIN_FILES`). Call :meth:`close` at the end to store the results.
    """

    cache: ScanCache | None
    scan_function: ScanFunction = scan_source
    read: Callable[[Path], bytes] = read_source
    workers: int | None = None
    parallel_min: int | None = None
    stats: ScanStats = field(default_factory=ScanStats)
    _ready: dict[tuple[Path, Target], _Outcome] = field(default_factory=dict)
    _pending: list[tuple[str, str]] = field(default_factory=list)

    def prefetch(self, items: Iterable[tuple[Path, str, Target]]) -> None:
        """Scan ``(absolute file, display name, target)`` items ahead of :meth:`scan`."""
        self._prefetch(items)
        self._flush()

    def scan(self, file: Path, display: str, target: Target) -> FileScan:
        """The scan of ``file`` (absolute) for ``target``, prefetched or done now.

        ``display`` is the name parse errors are reported under. Raises OSError (the
        file cannot be read) or ScanError (it does not parse), as
        ``scan_function(read(file), display, target)`` would.
        """
        outcome = self._ready.pop((file, target), None)
        if outcome is None:
            self._prefetch([(file, display, target)])
            outcome = self._ready.pop((file, target))
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def close(self) -> None:
        """Store what was scanned in the cache and close it."""
        self._flush()
        if self.cache is not None:
            self.cache.close()

    def _prefetch(self, items: Iterable[tuple[Path, str, Target]]) -> None:
        """Read, look up and parse ``items``, :data:`CHUNK` at a time, so that workers
        parse the first misses while this process still reads and hashes the rest."""
        todo = [i for i in dict.fromkeys(items) if (i[0], i[2]) not in self._ready]
        pool = _Pool(self.scan_function, self._pool_size(len(todo)))
        minimum = PARALLEL_MIN_FILES if self.parallel_min is None else self.parallel_min
        waiting: list[_Job] = []  # misses not handed to the pool (yet)
        for start in range(0, len(todo), CHUNK):
            waiting.extend(self._from_cache(self._read(todo[start : start + CHUNK])))
            if pool.size >= 2 and len(waiting) >= (CHUNK if pool.started else minimum):
                waiting = pool.submit(waiting)
        if pool.started and waiting:
            waiting = pool.submit(waiting)
        for job, payload in pool.results():
            outcome = _decoded(payload) if payload is not None else None
            if payload is None or outcome is None:
                waiting.append(job)
                continue
            self.stats.pooled += 1
            if job.key:
                self._pending.append((job.key, payload))
            self._ready[(job.file, job.target)] = outcome
        if pool.error is not None:
            self.stats.pool_error = pool.error
        for job in waiting:
            self._ready[(job.file, job.target)] = self._parse_here(job)

    def _read(self, items: Sequence[tuple[Path, str, Target]]) -> list[_Job]:
        jobs: list[_Job] = []
        for file, display, target in items:
            try:
                source = self.read(file)
            except (OSError, ScanError) as exc:
                self._ready[(file, target)] = exc
                continue
            jobs.append(_Job(file, display, target, source, self._key(source, target)))
        return jobs

    def _pool_size(self, files: int) -> int:
        """Worker processes for ``files`` to scan: 0 when a pool is not worth it."""
        minimum = PARALLEL_MIN_FILES if self.parallel_min is None else self.parallel_min
        if files < minimum or multiprocessing.current_process().daemon:
            return 0
        return min(self.workers or _usable_cpus(), -(-files // CHUNK))

    def _key(self, source: bytes, target: Target) -> str:
        if self.cache is None:
            return ""
        fn = self.scan_function
        name = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"
        return scan_key(hashlib.sha256(source).digest(), target, name)

    def _from_cache(self, jobs: list[_Job]) -> list[_Job]:
        """Fill in the cached jobs; return the others."""
        if self.cache is None or not jobs:
            return jobs
        found = self.cache.get_many([job.key for job in jobs])
        misses: list[_Job] = []
        for job in jobs:
            text = found.get(job.key)
            outcome = _decoded(text) if text is not None else None
            if outcome is None:
                misses.append(job)
            else:
                self._ready[(job.file, job.target)] = outcome
        return misses

    def _parse_here(self, job: _Job) -> _Outcome:
        self.stats.parsed += 1
        outcome: _Outcome
        try:
            outcome = self.scan_function(job.source, job.display, job.target)
        except ScanError as exc:
            outcome = exc
        if job.key:
            with contextlib.suppress(CodecError):  # not cacheable: scanned again next time
                self._pending.append((job.key, encode(outcome)))
        return outcome

    def _flush(self) -> None:
        if self.cache is not None and self._pending:
            self.cache.put_many(self._pending)
        self._pending.clear()


class _Pool:
    """A process pool started on first use; jobs that it could not scan come back.

    ``size`` is the number of workers (below 2: never started). After a failure
    (``error``) nothing more is sent to it.
    """

    def __init__(self, scan_function: ScanFunction, size: int) -> None:
        self.scan_function = scan_function
        self.size = size
        self.error: str | None = None
        self._executor: ProcessPoolExecutor | None = None
        self._futures: dict[Future[list[str | None]], list[_Job]] = {}

    @property
    def started(self) -> bool:
        return self._executor is not None

    def submit(self, jobs: list[_Job]) -> list[_Job]:
        """Send ``jobs`` to the workers, :data:`CHUNK` per task; return those not sent."""
        if self.error is not None:
            return jobs
        try:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    self.size, mp_context=_context(), initializer=_worker_init
                )
            for start in range(0, len(jobs), CHUNK):
                batch = jobs[start : start + CHUNK]
                work = [(j.source, j.display, j.target) for j in batch]
                self._futures[self._executor.submit(_scan_batch, self.scan_function, work)] = batch
        except Exception as exc:  # noqa: BLE001 - no pool here (no /dev/shm, no fork...)
            self._fail(exc)
            sent = {id(j) for batch in self._futures.values() for j in batch}
            return [j for j in jobs if id(j) not in sent]
        return []

    def results(self) -> Iterator[tuple[_Job, str | None]]:
        """Each sent job with its encoded outcome (None: not scanned), as they finish;
        then shut the pool down."""
        try:
            for future in as_completed(self._futures):
                batch = self._futures[future]
                try:
                    payloads = future.result()
                except Exception as exc:  # noqa: BLE001 - a broken pool: scan them here
                    self._fail(exc)
                    payloads = [None] * len(batch)
                yield from zip(batch, payloads, strict=True)
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = None

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = f"{type(exc).__name__}: {exc}"


def _decoded(text: str) -> _Outcome | None:
    """A cached or pooled outcome, or None if ``text`` is not a valid one."""
    try:
        value = decode(text)
    except CodecError:
        return None
    if isinstance(value, BaseException) and not isinstance(value, ScanError):
        return None
    return value  # type: ignore[no-any-return]  # a scan function's value, see _codec


def _context() -> multiprocessing.context.BaseContext:
    """On Linux, ``fork`` when this process runs one thread (workers start in
    milliseconds and import nothing), else ``forkserver``: forking a multi-threaded
    process can deadlock the child (Python 3.12 warns about it). Elsewhere the
    platform's default start method."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context(
            "fork" if threading.active_count() == 1 else "forkserver"
        )
    return multiprocessing.get_context()


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _worker_init() -> None:
    # Parse trees hold no reference cycles, so reference counting frees them; without
    # the cyclic collector, which ast.parse's allocations trigger again and again,
    # parsing takes about a third less time (measured on site-packages, CPython 3.11).
    gc.disable()


def _scan_batch(
    scan_function: ScanFunction, batch: list[tuple[bytes, str, Target]]
) -> list[str | None]:
    """Run in a worker: the encoded outcome of each file, None if it has no JSON form."""
    out: list[str | None] = []
    for source, display, target in batch:
        outcome: _Outcome
        try:
            outcome = scan_function(source, display, target)
        except ScanError as exc:
            outcome = exc
        try:
            out.append(encode(outcome))
        except CodecError:
            out.append(None)
    return out
