"""The builder: spec -> plan -> lock -> prefix -> archive, every build from a lock.

Stages, each returning a typed value:

1. **plan** (:mod:`.plan`): channels, conda MatchSpecs, pip requirements; with
   ``--local-python`` a local channel holding python made from a local interpreter.
2. **lock** (:func:`resolve`): rattler solves the conda part without installing; the pip
   part is resolved by pip's dry run against the solved python (which needs the conda
   layer, so it is installed once and cached). ``pkg lock`` stops here; ``create --lock``
   starts after it. A resolution is cached per plan and reused unless ``refresh``.
3. **install**: the conda layer is cloned from the build cache (or installed by rattler
   from the lock and cached), then pip installs exactly the lock's pip files.
4. **finish**: the spec's ``env``, the code hook, bytecode, the pre-flight import check,
   the glibc floor, the manifest.
5. **pack** (:mod:`._pack`): conda-pack writes the environment layer byte-reproducibly.
6. **assemble** (:mod:`._layers`): index member, environment layer, code layer
   (:mod:`.code`), end.

The environment layer and the lock are cached under a key covering everything that decides
their bytes except the code (:func:`archive_key`). A build whose lock and options are
unchanged is a cache hit that stages nothing: only the code layer is written again (a code
edit costs a second, not a rebuild).
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import hashlib
import json
import os
import platform as _platform
import re
import shlex
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from pkgtool import __version__
from pkgtool import call as _call
from pkgtool._files import write_failed
from pkgtool.builder import (
    _condapkg,
    _layers,
    _pack,
    _proc,
    _rattler,
    code,
    distcache,
    glibc,
    manifest,
    pip_layer,
    verify,
)
from pkgtool.builder import cache as _cache
from pkgtool.builder.lock import Lock, lock_path_for
from pkgtool.builder.plan import Plan, make_plan
from pkgtool.errors import BuildError, UsageError
from pkgtool.runner import check_link, runner_script
from pkgtool.runner._layers import Index
from pkgtool.runner._selfextract import script_with_offset
from pkgtool.spec import Spec

Reporter = Callable[[str], None]
"""Called with a short description as each build step starts (for progress display), and
with a line starting with :data:`WARNING` for what the user should know but that does not
stop the build (a damaged build cache entry, dropped and rebuilt)."""

WARNING = "warning: "
"""The start of a :data:`Reporter` line that is a warning, not a step."""


@dataclass(frozen=True)
class CreateOptions:
    """How to build. Paths are absolute or relative to the working directory.

    ``channels`` replace the spec's channels (with ``local_python`` they are searched after
    the local python channel). ``local_python`` is an interpreter executable to take
    python from instead of a channel; then, unless ``channels`` are given, conda
    dependencies other than python and pip are installed from the package index.
    ``cache_dir`` is the build cache (:mod:`.cache`). ``lock`` builds exactly the packages
    of a lock file. ``refresh`` resolves again instead of reusing a cached resolution.
    ``include_optional`` also installs and verifies optional imports. ``installer``
    (``uv`` or ``pip``) installs the pip layer. ``log_echo`` also
    gets the tools' output (``--debug``).
    """

    cache_dir: Path
    channels: tuple[str, ...] = ()
    local_python: Path | None = None
    lock: Path | None = None
    refresh: bool = False
    include_optional: bool = False
    compress_level: int = 4
    installer: str = "uv"
    log_echo: TextIO | None = field(default=None, compare=False)


@dataclass(frozen=True)
class StepTime:
    """One finished step: its description and wall time in seconds."""

    step: str
    seconds: float


@dataclass(frozen=True)
class CreateResult:
    """What :func:`create` wrote: the archive, its lock, and the embedded manifest."""

    archive: Path
    lock: Path
    manifest: dict[str, Any]
    size: int
    """Archive size in bytes."""
    seconds: float
    """Wall time of the build in seconds."""
    cache_hit: bool = False
    """True when the environment layer came from the build cache without staging anything."""
    steps: tuple[StepTime, ...] = ()
    code: code.CodeBundle = field(default_factory=code.CodeBundle)
    """The code bundled in the archive's code layer."""
    layers: Index | None = None
    """The archive's layer index."""


class _Steps:
    """Reports each step as it starts and records how long each took."""

    def __init__(self, report: Reporter | None) -> None:
        self._report = report
        self._current: tuple[str, float] | None = None
        self.done: list[StepTime] = []

    def __call__(self, text: str) -> None:
        if text.startswith(WARNING):  # not a step: the current one goes on
            if self._report is not None:
                self._report(text)
            return
        self.finish()
        self._current = (text, time.monotonic())
        if self._report is not None:
            self._report(text)

    def finish(self) -> None:
        if self._current is not None:
            text, started = self._current
            self.done.append(StepTime(text, round(time.monotonic() - started, 3)))
            self._current = None


def plural(n: int, word: str) -> str:
    """``1 package``, ``2 packages``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --------------------------------------------------------------------------- public API


def lock(spec: Spec, out: Path, options: CreateOptions, report: Reporter | None = None) -> Lock:
    """Resolve ``spec`` and write its lock to ``out`` (atomically); return the lock.

    Raises:
        InputError: an unusable local interpreter.
        ResolutionError: conda or pip requirements cannot be resolved.
        BuildError: the conda layer needed by pip's resolution could not be installed.
    """
    if not out.parent.is_dir():
        raise UsageError(f"output directory {out.parent} does not exist", hint="create it first")
    steps = _Steps(report)
    build_cache = _open_cache(options)
    log = _proc.BuildLog(build_cache.new_log(), options.log_echo)
    plan = _plan(spec, options, build_cache, steps)
    result = resolve(plan, build_cache, log, steps, refresh=True, installer=options.installer)
    try:
        _cache.write_atomic(out, result.to_json().encode())
    except OSError as exc:
        raise write_failed(out, exc) from exc
    steps.finish()
    return result


def create(
    spec: Spec,
    spec_dir: Path,
    out: Path,
    options: CreateOptions,
    report: Reporter | None = None,
) -> CreateResult:
    """Build ``spec`` into the archive ``out`` and its lock beside it.

    ``spec_dir`` is the directory of the spec file (``code.root`` is relative to it).
    Either both files are written, or neither (nor anything in the staging prefix).

    Raises:
        UsageError: ``out`` has no supported archive suffix or its directory is missing.
        InputError: bad code patterns, an unusable local interpreter, an invalid lock.
        ResolutionError: conda or pip requirements cannot be resolved; a lock's local
            python does not match ``--local-python``.
        BuildError: install, bytecode, pre-flight import check or packing failed.
    """
    started = time.monotonic()
    if not _pack.archive_format(out):
        raise UsageError(
            f"cannot write an archive named {out.name!r}",
            hint=f"name the output with one of: {', '.join(_pack.ARCHIVE_SUFFIXES)}",
        )
    out = out.resolve()
    if not out.parent.is_dir():
        raise UsageError(f"output directory {out.parent} does not exist", hint="create it first")
    steps = _Steps(report)
    build_cache = _open_cache(options)
    log = _proc.BuildLog(build_cache.new_log(), options.log_echo)
    given = Lock.load(options.lock) if options.lock else None
    pip_version = next((p.version for p in given.conda if p.name == "pip"), None) if given else None
    plan = _plan(spec, options, build_cache, steps, pip_version)
    bundle = code.collect(spec.code, spec_dir)
    code.check_local_imports(spec, bundle)
    if given is not None:
        plan.check_lock(given)
        the_lock: Lock | None = given
    else:
        the_lock = (
            None
            if options.refresh
            else _cached_resolution(plan, build_cache, installer=options.installer, steps=steps)
        )
    if the_lock is not None:
        hit = _from_cache(build_cache, archive_key(the_lock, spec, options, out), out, bundle,
                          options, steps, the_lock)  # fmt: skip
        if hit is not None:
            return _result(hit[0], out, started, steps, bundle, cache_hit=True, index=hit[1])
    if the_lock is None:
        the_lock = _solve_conda(plan, build_cache, log, steps, options.refresh)
    with _cache.staging(the_lock.conda_key()) as staged, _cache.pending() as entries:
        prefix = staged.path
        layer = _conda_layer(the_lock, plan, build_cache, prefix, log, steps, entries)
        if given is None and plan.pip_requirements and not the_lock.pip:
            the_lock = _resolve_pip(
                the_lock, plan, build_cache, prefix, log, steps, options.installer
            )
        key = archive_key(the_lock, spec, options, out)
        hit = _from_cache(build_cache, key, out, bundle, options, steps, the_lock)
        if hit is not None:
            entries.commit(staged)
            return _result(hit[0], out, started, steps, bundle, cache_hit=True, index=hit[1])
        job = _Job(build_cache, plan, options, out, log, steps, entries,
                   code.unconditional_imports(bundle))  # fmt: skip
        data, parts = _finish(job, spec, the_lock, layer, prefix)
        steps("packing the environment layer")
        _pack_into_cache(job, key, staged, layer, parts, data, the_lock)
        entries.commit(staged)
    entry = build_cache.archive(key)
    _cache.prune(build_cache, keep=(entry, build_cache.layer(the_lock.conda_key())))
    index = _install_outputs(entry, out, bundle, options, steps)
    return _result(entry, out, started, steps, bundle, index=index, manifest_data=data)


def resolve(
    plan: Plan, build_cache: _cache.BuildCache, log: _proc.BuildLog, steps: Reporter, *,
    refresh: bool = False, installer: str = "uv",
) -> Lock:  # fmt: skip
    """Stage 2: the lock of ``plan`` (from the resolution cache unless ``refresh``); the
    pip layer is resolved by ``installer`` (see :func:`.pip_layer.resolve_requirements`).

    Raises:
        ResolutionError: conda or pip requirements cannot be resolved.
        BuildError: the conda layer could not be installed for pip's resolution.
    """
    cached = (
        None if refresh else _cached_resolution(plan, build_cache, installer=installer, steps=steps)
    )
    if cached is not None:
        return cached
    conda_lock = _solve_conda(plan, build_cache, log, steps, refresh)
    if not plan.pip_requirements:
        return conda_lock
    with _cache.staging(conda_lock.conda_key()) as staged, _cache.pending() as entries:
        _conda_layer(conda_lock, plan, build_cache, staged.path, log, steps, entries)
        full = _resolve_pip(conda_lock, plan, build_cache, staged.path, log, steps, installer)
        entries.commit(staged)
        return full


# --------------------------------------------------------------------------- stages


def _open_cache(options: CreateOptions) -> _cache.BuildCache:
    """The build cache, created if needed (after the command line was found valid).

    Raises:
        UsageError: it cannot be created.
    """
    root = options.cache_dir.resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create the build cache {root}: {exc.strerror or exc}",
            hint="pass a writable --cache-dir (or set PKG_BUILD_CACHE_DIR)",
        ) from exc
    return _cache.BuildCache(root)


def _plan(
    spec: Spec,
    options: CreateOptions,
    build_cache: _cache.BuildCache,
    steps: Reporter,
    pip_version: str | None = None,
) -> Plan:
    """Stage 1 (see :func:`pkgtool.builder.plan.make_plan`)."""
    if options.local_python is not None:
        steps(f"preparing python from {options.local_python}")
    return make_plan(
        spec,
        channels=options.channels,
        local_python=options.local_python,
        include_optional=options.include_optional,
        cache_dir=build_cache.root,
        pip_version=pip_version,
    )


def _resolution_key(plan: Plan, part: str = "all", installer: str = "uv") -> str:
    """Key of a cached resolution of ``plan``: the whole lock (with what resolved its pip
    layer, when it has one), or only its ``"conda"`` part (reused when only the pip
    requirements changed)."""
    local = sorted(plan.local.packages.items()) if plan.local else None
    pip = plan.pip_requirements if part == "all" else None
    resolver = installer if pip else None
    constraints = (plan.pip_constraints,) if pip and plan.pip_constraints else ()
    return _cache.key_of(
        "resolution", part, __version__, _platform.machine(), plan.channels, plan.conda_specs,
        pip, local, resolver, *constraints,
    )  # fmt: skip


def _cached_resolution(
    plan: Plan, build_cache: _cache.BuildCache, part: str = "all", installer: str = "uv",
    steps: Reporter | None = None,
) -> Lock | None:  # fmt: skip
    """The cached lock of ``plan`` (``part``), None when there is none; one that is not a
    valid lock is reported through ``steps`` (a ``warning:`` line) and removed."""
    path = build_cache.resolution(_resolution_key(plan, part, installer))
    if not path.exists():
        return None
    try:
        return Lock.parse(build_cache.read_json(path))
    except (ValueError, TypeError, KeyError, AttributeError):
        if steps is not None:
            _drop(path, "not a valid lock", steps)
        return None


def _solve_conda(
    plan: Plan,
    build_cache: _cache.BuildCache,
    log: _proc.BuildLog,
    steps: Reporter,
    refresh: bool = False,
) -> Lock:
    cached = None if refresh else _cached_resolution(plan, build_cache, "conda", steps=steps)
    if cached is not None:
        return cached
    steps(f"solving {plural(len(plan.conda_specs), 'conda requirement')}")
    records = _rattler.solve(plan.channel_urls(), plan.conda_specs, build_cache.rattler, log)
    subdir = next((str(r["subdir"]) for r in records if r["subdir"] != "noarch"), None)
    platform = subdir or _condapkg.subdir_for_machine(_platform.machine()) or "noarch"
    lock_ = Lock.build(platform, plan.channels, map(plan.lock_entry, records), [])
    build_cache.write_json(build_cache.resolution(_resolution_key(plan, "conda")), lock_.to_dict())
    if not plan.pip_requirements:
        build_cache.write_json(build_cache.resolution(_resolution_key(plan)), lock_.to_dict())
    return lock_


def _resolve_pip(
    conda_lock: Lock,
    plan: Plan,
    build_cache: _cache.BuildCache,
    prefix: Path,
    log: _proc.BuildLog,
    steps: Reporter,
    installer: str,
) -> Lock:
    steps(f"resolving {plural(len(plan.pip_requirements), 'pip requirement')}")
    python = prefix / "bin" / "python"
    pip = pip_layer.resolve_requirements(
        python, plan.pip_requirements, log, build_cache.pip_files, installer,
        plan.pip_constraints,
    )  # fmt: skip
    full = conda_lock.with_pip(pip)
    key = _resolution_key(plan, installer=installer)
    build_cache.write_json(build_cache.resolution(key), full.to_dict())
    return full


@dataclass(frozen=True)
class _Layer:
    """The installed conda layer: the glibc floor of its ELF files (None: none needed),
    its paths relative to the prefix, and where its packed archive parts are cached."""

    glibc: str | None
    files: frozenset[str]
    parts: Path


def _conda_layer(
    the_lock: Lock,
    plan: Plan,
    build_cache: _cache.BuildCache,
    prefix: Path,
    log: _proc.BuildLog,
    steps: Reporter,
    entries: _cache.Pending,
) -> _Layer:
    """Stage 3a: put the lock's conda layer at ``prefix``: a clone of the cached layer (once
    verified: :func:`_cached_layer`), or a rattler install (then cached as a pending entry
    of ``entries``, committed when the whole build succeeded)."""
    entry = build_cache.layer(the_lock.conda_key())
    cached = _cached_layer(entry, the_lock, steps)
    if cached is not None:
        steps(f"reusing the conda layer ({plural(len(the_lock.conda), 'package')})")
        _cache.clone_tree(entry / "prefix", prefix)
        return cached
    steps(f"installing {plural(len(the_lock.conda), 'conda package')}")
    plan.check_lock(the_lock)
    urls = plan.channel_urls(the_lock.channels)
    _rattler.install(
        urls,
        [(p.name, plan.package_url(p)) for p in the_lock.conda],
        prefix,
        build_cache.rattler,
        log,
    )
    (prefix / "CACHEDIR.TAG").unlink(missing_ok=True)  # rattler's, not the archive's
    if not (prefix / "bin" / "python").exists():
        raise BuildError(
            "the environment has no python (bin/python missing)",
            hint="add python to the spec's conda dependencies",
        )
    floor = glibc.glibc_floor(glibc.elf_candidates(prefix))
    site_packages, _ = _python_facts(prefix / "bin" / "python", log)
    # once per layer; not pip's own package, which jobs on nodes do not import
    for warning in _compile(
        prefix / "bin" / "python", [site_packages], log, skip=site_packages / "pip"
    ):
        steps(WARNING + warning)
    files = sorted(_walk(prefix, with_links=True))
    meta = {"glibc": floor, "files": files, "lock": the_lock.to_dict()}
    work = _cache.store_tree(prefix, entry, meta, entries)
    return _Layer(floor, frozenset(files), work / "parts")


def _cached_layer(entry: Path, the_lock: Lock, steps: Reporter) -> _Layer | None:
    """The cached conda layer at ``entry`` when it is complete and intact: ``meta.json``
    valid and naming this lock, every file of ``prefix/`` with the sha256 recorded when it
    was stored, rattler's package cache still there. A damaged entry is reported (one
    ``warning:`` line), removed, and None returned (the layer is installed again)."""
    if not entry.is_dir():
        return None
    meta = _read_cache_json(entry / "meta.json")
    problem = None
    if not isinstance(meta, dict) or _conda_key_of(meta.get("lock")) != the_lock.conda_key():
        problem = "meta.json is not this layer's record"
    elif not isinstance(meta.get("files"), list) or not isinstance(meta.get("glibc"), str | None):
        problem = "meta.json is incomplete"
    else:
        problem = _cache.verify_tree(entry / "prefix", meta.get("digests"))
    if problem is None and not _package_cache_intact(entry / "prefix"):
        problem = "rattler's package cache no longer holds its packages"
    if problem is not None:
        _drop(entry, problem, steps)
        return None
    _cache.touch(entry / "meta.json")
    return _Layer(meta["glibc"], frozenset(map(str, meta["files"])), entry / "parts")


def _conda_key_of(data: Any) -> str | None:
    """The conda key of the lock ``data`` (a layer's record), None if it is not a lock."""
    try:
        return Lock.parse(data).conda_key()
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _read_cache_json(path: Path) -> Any:
    """The JSON at ``path``; None when missing, unreadable or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _drop(entry: Path, problem: str, steps: Reporter) -> None:
    """Report the damaged cache entry ``entry`` on one line and remove it."""
    name = f"{entry.parent.name}/{entry.name}"
    steps(f"{WARNING}build cache entry {name} is damaged ({problem}); rebuilding it")
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


def _package_cache_intact(prefix: Path) -> bool:
    """True when every package of the cached layer at ``prefix`` is still in rattler's
    package cache, where conda-pack reads their files (``link.source``)."""
    records = sorted((prefix / "conda-meta").glob("*.json"))
    for record in records:
        data = _read_cache_json(record)
        link = data.get("link") if isinstance(data, dict) else None
        source = link.get("source") if isinstance(link, dict) else None
        if (
            not isinstance(source, str)
            or not source
            or not Path(source, "info", "index.json").is_file()
        ):
            return False
    return bool(records)


@dataclass(frozen=True)
class _Job:
    """What the staging stages of one ``create`` share: where, what, how, and the pending
    cache entries committed when the whole build succeeded."""

    build_cache: _cache.BuildCache
    plan: Plan
    options: CreateOptions
    out: Path
    log: _proc.BuildLog
    steps: Reporter
    entries: _cache.Pending
    code_imports: tuple[str, ...] = ()


def _finish(
    job: _Job, spec: Spec, the_lock: Lock, layer: _Layer, prefix: Path
) -> tuple[dict[str, Any], tuple[_pack.LayerPart, ...]]:
    """Stages 3b and 4: the pip layer, env, the code hook, bytecode, pre-flight, manifest.
    Nothing here depends on the code (it is the next layer). Returns the manifest and the
    pip layer's archive parts (one per distribution, :mod:`.distcache`)."""
    build_cache, options, log, steps = job.build_cache, job.options, job.log, job.steps
    python = prefix / "bin" / "python"
    before = set(_walk(prefix))
    if the_lock.pip:
        steps(f"installing {plural(len(the_lock.pip), 'pip distribution')}")
        pip_layer.fetch_locked(python, the_lock.pip, build_cache.pip_files, log)
        pip_layer.install_locked(
            python, the_lock.pip, build_cache.pip_files, log, options.installer
        )
        pip_layer.check_conda_files_intact(prefix)
    site_packages, python_version = _python_facts(python, log)
    dists = distcache.installed_distributions(
        prefix, site_packages, set(_walk(prefix)) - before, the_lock.pip, the_lock.conda_key()
    )
    cached = distcache.restore_bytecode(prefix, dists, build_cache.pip_dists, steps)
    code.write_hook(site_packages, prefix)
    _place_call_module(site_packages)
    _write_run_in_env(prefix)
    if spec.env:
        _write_env_script(prefix, spec.env)
    new_sources = [
        prefix / p
        for p in _walk(prefix)
        if p not in before and p.endswith(".py") and p not in cached
    ]
    if new_sources:
        steps(f"compiling bytecode of {plural(len(new_sources), 'file')}")
        for warning in _compile(python, new_sources, log, force=True):
            steps(WARNING + warning)
    homes = distcache.store_bytecode(prefix, dists, build_cache.pip_dists, job.entries)
    imports = spec.analysis.imports if spec.analysis else ()
    modules = verify.modules_to_check(
        [i for i in imports if i.installer != "local"], options.include_optional
    )
    stdlib = verify.stdlib_to_check(job.code_imports, python_version, modules)
    steps(f"checking {plural(len(modules), 'import')} in the new environment")
    verified = [m for m in verify.preflight(python, modules + stdlib, imports) if m in modules]
    added = [p for p in _walk(prefix) if p not in before]
    floors = [f for f in (layer.glibc, glibc.glibc_floor(glibc.elf_candidates(prefix, added))) if f]
    data = manifest.build_manifest(
        platform=the_lock.platform,
        python=python_version,
        glibc=max(floors, key=lambda v: tuple(map(int, v.split(".")))) if floors else None,
        verified_imports=verified,
        spec=env_spec(spec).to_dict(),
        lock=the_lock.to_dict(),
    )
    manifest.write_manifest(prefix, data)
    _check_links(prefix)
    parts = tuple(
        _pack.LayerPart(distcache.part_files(prefix, d), homes[d.key] / "parts") for d in dists
    )
    return data, parts


def _place_call_module(site_packages: Path) -> None:
    """pkgtool's own files in every environment, beside the code hook: the stdlib-only call
    package (``python3 -m pkgtool_call``, :mod:`pkgtool.call`), compiled with the rest."""
    _call.place_module(site_packages)


def _pack_into_cache(
    job: _Job, key: str, staged: _cache.Staging, layer: _Layer,
    parts: tuple[_pack.LayerPart, ...], manifest_data: dict[str, Any], the_lock: Lock,
) -> None:  # fmt: skip
    """Stage 5: pack into a new archive cache entry (pending in ``job.entries``): the
    environment layer (``env.tar.gz`` or ``env.tar.zst``) and its ``env.json`` (sha256,
    length), ``lock.json`` and ``manifest.json`` (a copy of the embedded manifest)."""
    work = job.entries.new(job.build_cache.archive(key))
    names = {job.plan.local.url: "local-python"} if job.plan.local else {}
    part = work / _env_part_name(job.out)
    staged.check()
    _pack.pack_prefix(
        staged.path, part, compress_level=job.options.compress_level, channel_names=names,
        layer=_pack.LayerPart(layer.files, layer.parts), parts=parts, warn=job.steps,
    )  # fmt: skip
    digest, length = _layers.sha256_file(part)
    _cache.write_atomic(
        work / "env.json", json.dumps({"sha256": digest, "length": length}).encode()
    )
    _cache.write_atomic(work / "manifest.json", json.dumps(manifest_data).encode())
    _cache.write_atomic(work / "lock.json", the_lock.to_json().encode())


def env_spec(spec: Spec) -> Spec:
    """What of ``spec`` the environment layer depends on (its manifest embeds it): no
    ``code`` section, and of the analysis only the third-party imports without their
    sites (file:line), no entry points and not the analysed environment (the name of the
    analyst's virtual environment, a detail of the build host), so that editing code, even
    with ``pkg analyze`` run again, never changes the environment layer."""
    analysis = spec.analysis
    if analysis is not None:
        imports = tuple(
            dataclasses.replace(i, sites=()) for i in analysis.imports if i.installer != "local"
        )
        analysis = dataclasses.replace(analysis, entry_points=(), imports=imports, environment=None)
    return Spec(spec.channels, spec.dependencies, spec.pip, (), spec.env, analysis)


def archive_key(the_lock: Lock, spec: Spec, options: CreateOptions, out: Path) -> str:
    """The build cache key of an environment layer: everything that decides its bytes —
    the lock, the spec without code (embedded in the manifest), the options that change
    the content (``include_optional``, the installer, the compression and its level), the
    member time (``SOURCE_DATE_EPOCH``), the staging path and pkgtool's version."""
    return _cache.key_of(
        "environment-layer", __version__, the_lock.to_dict(), env_spec(spec).to_dict(),
        options.include_optional, options.compress_level, options.installer, _env_part_name(out),
        _pack.source_date_epoch(), _cache.staging_prefix(the_lock.conda_key()).as_posix(),
        _call.module_hash(),
    )  # fmt: skip


def _env_part_name(out: Path) -> str:
    return "env.tar.zst" if _pack.archive_format(out) == "zst" else "env.tar.gz"


def _from_cache(
    build_cache: _cache.BuildCache, key: str, out: Path, bundle: code.CodeBundle,
    options: CreateOptions, steps: _Steps, the_lock: Lock,
) -> tuple[Path, Index] | None:  # fmt: skip
    """Write ``out`` from the archive cache entry ``key`` when it is there and intact
    (:func:`_archive_entry_problem`); a damaged entry is reported, removed, and None
    returned (the environment layer is built again)."""
    entry = build_cache.archive(key)
    if not entry.is_dir():
        return None
    problem = _archive_entry_problem(entry, _env_part_name(out), the_lock)
    if problem is not None:
        _drop(entry, problem, steps)
        return None
    _cache.touch(entry)
    steps("reusing the packed environment layer")
    return entry, _install_outputs(entry, out, bundle, options, steps)


def _archive_entry_problem(entry: Path, part: str, the_lock: Lock) -> str | None:
    """What is wrong with the archive cache entry ``entry`` (None: nothing): ``env.json``
    must be ``{"sha256", "length"}`` and match the environment layer ``part``'s bytes,
    ``lock.json`` must be ``the_lock``, ``manifest.json`` a valid manifest of that lock."""
    info = _read_cache_json(entry / "env.json")
    if not (
        isinstance(info, dict)
        and isinstance(info.get("sha256"), str)
        and re.fullmatch("[0-9a-f]{64}", info["sha256"])
        and type(info.get("length")) is int
    ):
        return "env.json is not a layer record"
    try:
        digest, length = _layers.sha256_file(entry / part)
    except OSError as exc:
        return f"{part} is unreadable: {exc.strerror or exc}"
    if (digest, length) != (info["sha256"], info["length"]):
        return f"{part} does not match its sha256 and length"
    lock_data = _read_cache_json(entry / "lock.json")
    try:
        if Lock.parse(lock_data) != the_lock:
            return "lock.json is another lock"
    except (ValueError, TypeError, KeyError, AttributeError):
        return "lock.json is not a valid lock"
    data = _read_cache_json(entry / "manifest.json")
    if not isinstance(data, dict) or data.get("format") != manifest.FORMAT:
        return "manifest.json is not a manifest"
    if data.get("lock") != the_lock.to_dict():
        return "manifest.json describes another lock"
    return None


def _install_outputs(
    entry: Path, out: Path, bundle: code.CodeBundle, options: CreateOptions, steps: _Steps
) -> Index:
    """Write ``out`` (index, the cache entry's environment layer, the code layer of
    ``bundle``, end) and the lock beside it: both or neither. Returns the layer index."""
    kind = _pack.archive_format(out)
    epoch = _pack.source_date_epoch()
    env_info = json.loads((entry / "env.json").read_text(encoding="utf-8"))
    layers: list[tuple[str, Path | bytes, str]] = [
        ("env", entry / _env_part_name(out), env_info["sha256"])
    ]
    if bundle.files:
        steps(f"writing the code layer ({plural(len(bundle.files), 'file')})")
        part = _layers.code_part(bundle, kind, options.compress_level, epoch)
        layers.append(("code", part, hashlib.sha256(part).hexdigest()))
    end = _layers.end_part(kind, epoch)
    layers.append(("end", end, hashlib.sha256(end).hexdigest()))
    steps(f"writing {out.name}")
    try:
        index = _write_outputs(entry, out, kind, epoch, layers)
    except OSError as exc:
        if exc.errno not in _WRITE_ERRNOS:
            raise
        raise write_failed(out, exc) from exc
    steps.finish()
    return index


_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG)
"""What writing OUT meets on a full, broken or read-only filesystem: a named error (exit 5)."""


def _write_outputs(
    entry: Path, out: Path, kind: str, epoch: int, layers: list[tuple[str, Path | bytes, str]]
) -> Index:
    """Write ``out`` from ``layers`` and the entry's lock beside it: both or neither (the
    temporary files are removed whatever happens)."""
    lock_out = lock_path_for(out)
    with _partial(out) as tmp_archive, _partial(lock_out) as tmp_lock:
        with tmp_archive.open("wb") as fh:
            if out.name.endswith(".sh"):  # the sh runner, then the archive as its payload
                fh.write(script_with_offset(runner_script().read_bytes()))
            index = _layers.assemble(fh, kind, epoch, layers)
        shutil.copyfile(entry / "lock.json", tmp_lock)
        os.chmod(tmp_archive, 0o755 if out.name.endswith(".sh") else 0o644)
        os.chmod(tmp_lock, 0o644)
        os.replace(tmp_archive, out)
        try:
            os.replace(tmp_lock, lock_out)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
    return index


@contextmanager
def _partial(final: Path) -> Iterator[Path]:
    """A temporary file beside ``final``, ``.<name>.pkgtool.<pid>@<host>.<random>.part``,
    held under an ``flock`` while it is written (a killed writer's lock is gone with it) and
    removed afterwards; dead writers' parts are removed first (:func:`_remove_stale_parts`)."""
    _remove_stale_parts(final)
    fd, name = tempfile.mkstemp(
        prefix=f".{final.name}.pkgtool.{os.getpid()}@{_host()}.", suffix=".part", dir=final.parent
    )
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)
        os.close(fd)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname().split(".")[0]) or "host"


def _remove_stale_parts(final: Path) -> None:
    """Remove the temporary files :func:`_partial` left beside ``final`` when their writer
    was killed: only this pattern, this user's regular files, of this host, whose process is
    gone and whose lock nobody holds."""
    pattern = re.compile(
        rf"\.{re.escape(final.name)}\.pkgtool\.(\d+)@{re.escape(_host())}\.[a-z0-9_]+\.part"
    )
    try:
        names = os.listdir(final.parent)
    except OSError:
        return
    for name in names:
        match = pattern.fullmatch(name)
        if match is None or _alive(int(match.group(1))):
            continue
        path = final.parent / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            if st.st_uid == os.getuid() and stat.S_ISREG(st.st_mode):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                path.unlink(missing_ok=True)
        except OSError:
            pass  # locked: its writer lives (on another host of the same name, say)
        finally:
            os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process
    return True


def _result(
    entry: Path,
    out: Path,
    started: float,
    steps: _Steps,
    bundle: code.CodeBundle,
    *,
    cache_hit: bool = False,
    index: Index | None = None,
    manifest_data: dict[str, Any] | None = None,
) -> CreateResult:
    if manifest_data is None:
        manifest_data = json.loads((entry / "manifest.json").read_text(encoding="utf-8"))
    return CreateResult(
        archive=out,
        lock=lock_path_for(out),
        manifest=manifest_data,
        size=out.stat().st_size,
        seconds=time.monotonic() - started,
        cache_hit=cache_hit,
        steps=tuple(steps.done),
        code=bundle,
        layers=index,
    )


# --------------------------------------------------------------------------- helpers


def _walk(prefix: Path, with_links: bool = False) -> Iterator[str]:
    """Paths of the files under ``prefix`` (relative), and of symlinks to directories too
    with ``with_links``."""
    for directory, dirs, files in os.walk(prefix):
        links = (
            [d for d in dirs if os.path.islink(os.path.join(directory, d))] if with_links else []
        )
        for name in files + links:
            yield os.path.relpath(os.path.join(directory, name), prefix)


def _python_facts(python: Path, log: _proc.BuildLog) -> tuple[Path, str]:
    """(site-packages directory, full python version) of the environment's python."""
    probe = "import json, sys, sysconfig; print(json.dumps([sysconfig.get_path('purelib'), sys.version.split()[0]]))"  # noqa: E501 - one-line probe script
    proc = _proc.run([python, "-I", "-c", probe], log)
    if proc.returncode != 0:
        raise BuildError(
            f"the new environment's python does not run: {proc.stderr.strip()[-300:]}",
            hint=log.hint("the interpreter may need shared libraries this machine lacks"),
        )
    purelib, version = json.loads(proc.stdout)
    return Path(purelib), str(version)


def _write_run_in_env(prefix: Path) -> None:
    """Place ``bin/run_in_env`` (``runner/run_in_env.sh``, mode 0755) in the environment:
    the entry point of TaskVine's ``declare_poncho`` and of any ``tar xf`` user, which runs
    a command inside the unpacked environment, relocating it on first use.

    Raises:
        BuildError: a package of the environment already installs ``bin/run_in_env``.
    """
    target = prefix / "bin" / "run_in_env"
    if target.exists() or target.is_symlink():
        raise BuildError(
            "a package of the environment installs bin/run_in_env, which pkgtool writes",
            hint="remove that package from the spec (pkgtool's run_in_env runs commands "
            "in the environment, as poncho's does)",
        )
    shutil.copyfile(runner_script().with_name("run_in_env.sh"), target)
    target.chmod(0o755)


def _write_env_script(prefix: Path, env: Any) -> None:
    """Write the spec's ``env`` as ``export`` lines sourced by both runners on activation."""
    target = prefix / "etc" / "conda" / "activate.d" / "pkgtool-env.sh"
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# written by pkgtool from the spec's 'env'"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in sorted(env.items())]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _compile(
    python: Path,
    targets: list[Path],
    log: _proc.BuildLog,
    force: bool = False,
    skip: Path | None = None,
) -> list[str]:
    """Compile ``.pyc`` for ``targets`` (files or directories) with hash-based invalidation
    (PEP 552): the conda layer's site-packages once per layer, then only the files pip and
    the code bundle added. Returns one warning per file this python cannot compile (a
    third-party file for another Python, ``print "x"``): it is installed without bytecode,
    as pip and uv do, and the build goes on.

    rattler does not compile noarch packages and pip was told not to: shipping bytecode
    makes the first imports on a node several times faster (notes). ``unchecked-hash``
    pycs stay valid whatever mtimes the archive's files get when unpacked. The bytes do not
    depend on the number of worker processes (checked by the reproducibility test).
    ``force`` recompiles files that already have bytecode: a python run since they were
    added may have written timestamp-based ``.pyc`` for modules imported at start-up (the
    code hook, ``.pth`` imports of pip-installed distributions). Files under ``skip`` are
    left alone (the conda layer's ``pip`` package: an installer, not imported by jobs; its
    ~450 modules were the largest part of the conda layer's compile time, and Python
    compiles them on first use if someone runs pip on a node).

    Raises:
        BuildError: compileall failed otherwise than on a file's source.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write("".join(f"{t}\n" for t in targets))
    try:
        proc = _proc.run(
            [python, "-I", "-m", "compileall", "-q", "-j", "0", *(["-f"] if force else []),
             *(["-x", "^" + re.escape(f"{skip}/")] if skip else []),
             "--invalidation-mode", "unchecked-hash", "-i", listing.name],
            log,
        )  # fmt: skip
    finally:
        os.unlink(listing.name)
    if proc.returncode == 0:
        return []
    failed = _compile_failures(proc.stdout)
    if not failed:
        raise BuildError(
            f"compiling bytecode failed: {(proc.stdout + proc.stderr).strip()[-200:]}",
            hint=log.hint("compileall failed"),
        )
    prefix = python.parent.parent
    return [
        f"{_relative_to(Path(path), prefix)} does not compile with this python "
        f"({reason}); installed without bytecode"
        for path, reason in failed
    ]


_COMPILE_ERROR = re.compile(r"^\*\*\* Error compiling '(.*)'\.\.\.$")


def _compile_failures(output: str) -> list[tuple[str, str]]:
    """``(path, last line of the error)`` per ``*** Error compiling 'PATH'...`` block of
    ``compileall -q``'s output, sorted by path (workers print in any order)."""
    found: list[tuple[str, str]] = []
    current: tuple[str, list[str]] | None = None
    for line in [*output.splitlines(), "*** Error compiling ''..."]:
        match = _COMPILE_ERROR.match(line)
        if match is None:
            if current is not None and line.strip():
                current[1].append(line.strip())
            continue
        if current is not None:
            found.append((current[0], (current[1] or ["cannot compile"])[-1]))
        current = (match.group(1), []) if match.group(1) else None
    return sorted(found)


def _relative_to(path: Path, prefix: Path) -> str:
    try:
        return path.relative_to(prefix).as_posix()
    except ValueError:
        return str(path)


def _check_links(prefix: Path) -> None:
    """Refuse symbolic links the runners would refuse on the node (see pkgtool.runner)."""
    for directory, dirnames, filenames in os.walk(prefix):
        for name in dirnames + filenames:
            path = Path(directory, name)
            if not path.is_symlink():
                continue
            rel = path.relative_to(prefix).as_posix()
            try:
                check_link(rel, os.readlink(path))
            except ValueError as exc:
                raise BuildError(
                    f"symbolic link {rel} in the environment would be refused on nodes: {exc}",
                    hint="report the package that installs it; links must stay in the prefix",
                ) from None


__all__ = ["CreateOptions", "CreateResult", "Reporter", "StepTime", "create", "lock", "resolve"]
