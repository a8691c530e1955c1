"""The builder: spec -> lock -> prefix -> archive.

:func:`create` runs the whole pipeline in a staging directory and leaves either the
finished archive and its lock, or nothing:

1. choose channels (the spec's, ``--channel``, or a local channel holding python from a
   local interpreter, see :mod:`pkgtool.builder.localpython`);
2. solve and install the conda dependencies with py-rattler (:mod:`._rattler`);
3. install the pip layer with pip (:mod:`.pip_layer`) and check it left conda's files alone;
4. bundle the spec's local code into site-packages (:mod:`.code`) and write its ``env``
   variables to ``etc/conda/activate.d/pkgtool-env.sh``;
5. compile bytecode, then check that every required import imports (:mod:`.verify`);
6. embed the manifest (:mod:`.manifest`), pack with conda-pack (:mod:`._pack`), write the
   lock beside the archive (:mod:`.lock`).

The staging prefix is padded to :data:`STAGING_PREFIX_LENGTH` characters: conda-unpack
can rewrite binary files only to a prefix no longer than the one they were built in, so
a long build prefix lets the archive unpack into long paths.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pkgtool.builder import _pack, _rattler, code, localpython, manifest, pip_layer, verify
from pkgtool.builder.lock import Lock, lock_path_for
from pkgtool.errors import BuildError, UsageError
from pkgtool.runner import check_link
from pkgtool.spec import Spec, matchspec_name

STAGING_PREFIX_LENGTH = 100
"""Minimum length in characters of the staging prefix path (see module docstring)."""

Reporter = Callable[[str], None]
"""Called with a short description as each build step starts (for progress display)."""


@dataclass(frozen=True)
class CreateOptions:
    """How to build. Paths are absolute or relative to the working directory.

    ``channels`` replace the spec's channels (with ``local_python`` they are searched after
    the local python channel). ``local_python`` is an interpreter executable to take
    python from instead of a channel; then, unless ``channels`` are given, conda
    dependencies other than python and pip are installed from the package index.
    ``cache_dir`` holds package caches and local channels. ``lock`` rebuilds exactly
    the packages of a lock file. ``include_optional`` also verifies optional imports.
    """

    cache_dir: Path
    channels: tuple[str, ...] = ()
    local_python: Path | None = None
    lock: Path | None = None
    include_optional: bool = False
    compress_level: int = 4


@dataclass(frozen=True)
class CreateResult:
    """What :func:`create` wrote: the archive, its lock, and the embedded manifest."""

    archive: Path
    lock: Path
    manifest: dict[str, Any]
    size: int = 0
    """Archive size in bytes."""
    seconds: float = 0.0
    """Wall time of the build in seconds."""


def create(
    spec: Spec,
    spec_dir: Path,
    out: Path,
    options: CreateOptions,
    report: Reporter | None = None,
) -> CreateResult:
    """Build ``spec`` into the archive ``out`` and its lock beside it.

    ``spec_dir`` is the directory of the spec file (``code.root`` is relative to it).

    Raises:
        UsageError: ``out`` has no supported archive suffix.
        InputError: bad code patterns, an unusable local interpreter, an invalid lock.
        ResolutionError: conda or pip requirements cannot be resolved.
        BuildError: install, pre-flight import check or packing failed.
    """
    started = time.monotonic()

    def step(text: str) -> None:
        if report is not None:
            report(text)

    if not _pack.archive_format(out):
        raise UsageError(
            f"cannot tell the archive format of {out.name!r}",
            hint=f"name the output with one of: {', '.join(_pack.ARCHIVE_SUFFIXES)}",
        )
    out = out.resolve()
    if not out.parent.is_dir():
        raise UsageError(f"output directory {out.parent} does not exist", hint="create it first")
    lock_in = Lock.load(options.lock) if options.lock else None
    options.cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="staging-", dir=options.cache_dir))
    try:
        prefix = _staging_prefix(staging)
        channels, conda_specs, pip_reqs = _plan(spec, options, step)
        if lock_in is not None:
            channels = list(lock_in.channels)
        step(f"solving and installing {len(conda_specs)} conda packages")
        records = _rattler.solve_and_install(
            channels,
            [r["name"] for r in lock_in.conda] if lock_in else conda_specs,
            prefix,
            options.cache_dir / "rattler",
            locked_urls=[r["url"] for r in lock_in.conda] if lock_in else None,
        )
        python = prefix / "bin" / "python"
        if not python.exists():
            raise BuildError(
                "the environment has no python (bin/python missing)",
                hint="add python to the spec's conda dependencies",
            )
        pip_entries: list[dict[str, Any]] = []
        if pip_reqs or (lock_in and lock_in.pip):
            step(f"installing {len(pip_reqs) or len(lock_in.pip if lock_in else ())} pip packages")
            pip_entries = pip_layer.install_requirements(
                python, pip_reqs, locked=lock_in.pip if lock_in else ()
            )
            pip_layer.check_conda_files_intact(prefix)
        site_packages, python_version = _python_facts(python)
        code_files: list[str] = []
        if spec.code:
            step("bundling local code")
            code_files = code.bundle_code(spec.code, spec_dir, site_packages)
        if spec.env:
            _write_env_script(prefix, spec.env)
        step("compiling bytecode")
        _compile(python, site_packages)
        imports = spec.analysis.imports if spec.analysis else ()
        modules = verify.modules_to_check(imports, options.include_optional)
        step(f"checking {len(modules)} imports in the new environment")
        verified = verify.preflight(python, modules, imports)
        subdir = next((r["subdir"] for r in records if r["subdir"] != "noarch"), "noarch")
        lock = Lock.from_records(subdir, channels, records, pip_entries)
        glibc = manifest.glibc_floor(
            (d for r in records for d in r.get("depends", [])),
            (e["filename"] for e in pip_entries),
        )
        data = manifest.build_manifest(
            platform=subdir,
            python=python_version,
            glibc=glibc,
            verified_imports=verified,
            code_files=code_files,
            spec=spec.to_dict(),
            lock=lock.to_dict(),
        )
        manifest.write_manifest(prefix, data)
        (prefix / "CACHEDIR.TAG").unlink(missing_ok=True)  # rattler's, not the archive's
        _check_links(prefix)
        step(f"packing {out.name}")
        lock_out = lock_path_for(out)
        tmp_archive = staging / ("packed-" + out.name)
        _pack.pack_prefix(prefix, tmp_archive, compress_level=options.compress_level)
        tmp_lock = staging / "packed.lock.json"
        tmp_lock.write_text(lock.to_json(), encoding="utf-8")
        os.chmod(tmp_lock, 0o644)
        _move_into_place(tmp_archive, out)
        try:
            _move_into_place(tmp_lock, lock_out)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
        return CreateResult(out, lock_out, data, out.stat().st_size, time.monotonic() - started)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _plan(
    spec: Spec, options: CreateOptions, step: Reporter
) -> tuple[list[str], list[str], list[str]]:
    """Channels, conda MatchSpecs and pip requirements to build ``spec`` with ``options``."""
    conda_specs = list(spec.dependencies)
    pip_reqs = list(spec.pip) + (_optional_requirements(spec) if options.include_optional else [])
    if not any(matchspec_name(s) == "python" for s in conda_specs):
        conda_specs.insert(0, "python")
    if options.local_python is None:
        return list(options.channels or spec.channels), conda_specs, pip_reqs
    step(f"preparing python from {options.local_python}")
    local = localpython.local_python_channel(options.local_python, options.cache_dir)
    if options.channels:
        return [local, *options.channels], conda_specs, pip_reqs
    keep = [s for s in conda_specs if matchspec_name(s) in ("python", "pip")]
    moved = [localpython.conda_to_pip(s) for s in conda_specs if s not in keep]
    return [local], keep, moved + pip_reqs


def _optional_requirements(spec: Spec) -> list[str]:
    """pip requirements for the spec's optional third-party imports (``--include-optional``),
    pinned to the version the analyser saw installed, skipping those already required."""
    present = {_req_name(r) for r in spec.pip} | {matchspec_name(d) for d in spec.dependencies}
    out: dict[str, str] = {}
    for record in spec.analysis.imports if spec.analysis else ():
        dist = record.distribution
        if not record.optional or not dist or record.installer == "local":
            continue
        if _req_name(dist) in present:
            continue
        out[_req_name(dist)] = f"{dist}=={record.version}" if record.version else dist
    return [out[k] for k in sorted(out)]


def _req_name(requirement: str) -> str:
    return canonicalize_name(Requirement(requirement).name)


def _staging_prefix(staging: Path) -> Path:
    base = staging / "env"
    pad = STAGING_PREFIX_LENGTH - len(str(base))
    return staging / ("env" + ("_placehold" * (pad // 10 + 1))[: max(pad, 0)])


def _python_facts(python: Path) -> tuple[Path, str]:
    """(site-packages directory, full python version) of the environment's python."""
    probe = "import json, sys, sysconfig; print(json.dumps([sysconfig.get_path('purelib'), sys.version.split()[0]]))"  # noqa: E501 - one-line probe script
    proc = subprocess.run(
        [str(python), "-I", "-c", probe],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
    )
    if proc.returncode != 0:
        raise BuildError(
            f"the new environment's python does not run: {proc.stderr.strip()[-300:]}",
            hint="the interpreter may need shared libraries this machine lacks",
        )
    purelib, version = json.loads(proc.stdout)
    return Path(purelib), str(version)


def _write_env_script(prefix: Path, env: Any) -> None:
    """Write the spec's ``env`` as ``export`` lines sourced by both runners on activation."""
    target = prefix / "etc" / "conda" / "activate.d" / "pkgtool-env.sh"
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# written by pkgtool from the spec's 'env'"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in sorted(env.items())]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _compile(python: Path, site_packages: Path) -> None:
    """Compile ``.pyc`` for site-packages with hash-based invalidation (PEP 552).

    rattler does not compile noarch packages; shipping bytecode makes the first imports on
    a node several times faster (notes). ``unchecked-hash`` pycs stay valid whatever
    mtimes the archive's files get when unpacked.
    """
    subprocess.run(
        [
            str(python), "-I", "-m", "compileall", "-q", "-j", "0",
            "--invalidation-mode", "unchecked-hash", str(site_packages),
        ],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
        check=False,
    )  # fmt: skip


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


def _move_into_place(tmp: Path, final: Path) -> None:
    """Move a finished file onto ``final``: a rename, or copy + rename across filesystems."""
    try:
        os.replace(tmp, final)
    except OSError:
        part = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            shutil.copyfile(tmp, part)
            os.chmod(part, 0o644)
            os.replace(part, final)
        except BaseException:
            part.unlink(missing_ok=True)
            raise


__all__ = ["CreateOptions", "CreateResult", "Reporter", "create"]
