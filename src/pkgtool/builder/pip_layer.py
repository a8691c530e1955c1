"""The pip layer: PEP 508 requirements installed on top of the conda packages.

pip runs from the building interpreter against the new environment's python
(``pip --python <prefix>/bin/python install``, pip >= 22.3), so the environment needs no
pip of its own and pip's configuration (index URL, find-links, certificates) applies.
The layer is resolved first (:func:`resolve_requirements`, a dry run whose installation
report, pip >= 22.2, gives each file's URL and sha256 for the lock) and then installed
from the lock alone (:func:`install_locked`).

After the install, :func:`check_conda_files_intact` makes sure pip did not replace or
delete files owned by a conda package: conda-pack would refuse such a prefix, or with
``ignore_missing_files`` ship the old files beside the new metadata (notes).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pkgtool.builder import _proc
from pkgtool.builder._condapkg import sha256_file
from pkgtool.builder._pack import DEFAULT_EPOCH
from pkgtool.builder._proc import BuildLog
from pkgtool.builder.lock import PipDistribution
from pkgtool.errors import BuildError, ResolutionError

_NOT_FOUND = re.compile(
    r"(?:No matching distribution found for|"
    r"Could not find a version that satisfies the requirement)\s+(\S+)"
)


def resolve_requirements(
    python: Path, requirements: Sequence[str], log: BuildLog, files: Path
) -> list[PipDistribution]:
    """Resolve ``requirements`` against ``python``'s environment without installing.

    pip's ``install --dry-run --report`` (pip >= 22.2) runs against the environment's own
    python, so markers, the ABI and what the conda layer already provides are those of the
    target; its report names each file pip would install, with its URL and sha256.

    Files the report names in local directories are copied into ``files`` (see
    :func:`fetch_locked`): the lock keeps only their names and hashes.

    Returns one lock entry per distribution to install, sorted by name.

    Raises:
        ResolutionError: a requirement not found on the index, or conflicting requirements.
        BuildError: pip failed otherwise (e.g. building an sdist's metadata).
    """
    if not requirements:
        return []
    report = _pip(python, list(requirements), ["--dry-run"], log,
                  requested=requirements)  # fmt: skip
    found = sorted((_lock_entry(item) for item in report), key=lambda d: d.name.lower())
    urls = {e.sha256: str(i.get("download_info", {}).get("url", "")) for e, i in
            zip(map(_lock_entry, report), report, strict=True)}  # fmt: skip
    keep_local_files(found, urls, files)
    return found


def fetch_locked(
    python: Path, distributions: Sequence[PipDistribution], files: Path, log: BuildLog
) -> None:
    """Make ``files`` hold every locked file, as ``files/<filename>`` with the lock's sha256.

    Files already there are kept; the others are fetched in one ``pip download`` (run for
    ``python``, so wheel tags are the target's), by URL or by version, each checked
    against its hash (pip's hash-checking mode).

    Raises:
        ResolutionError: a locked file is not on the configured index.
        BuildError: pip failed otherwise, or a file's hash does not match.
    """
    files.mkdir(parents=True, exist_ok=True)
    missing = [d for d in distributions if not _has(files / d.filename, d.sha256)]
    if not missing:
        return
    with tempfile.TemporaryDirectory(prefix=".download-", dir=files) as tmp:
        lines = [d.requirement_line for d in missing]
        _pip(python, lines, ["--no-deps", "--require-hashes", "--dest", tmp], log,
             requested=[d.name for d in missing], command="download")  # fmt: skip
        for d in missing:
            got = Path(tmp, d.filename)
            if not _has(got, d.sha256):
                raise BuildError(
                    f"pip did not fetch {d.filename} with the lock's sha256",
                    hint=log.hint("the index serves other files; re-lock with --refresh"),
                )
            os.replace(got, files / d.filename)


def keep_local_files(distributions: Sequence[PipDistribution], report_urls: dict[str, str],
                     files: Path) -> None:  # fmt: skip
    """Copy the local files a resolution found (``file://`` URLs by sha256) into ``files``,
    so installing them later needs neither the index nor their original paths."""
    files.mkdir(parents=True, exist_ok=True)
    for d in distributions:
        url = report_urls.get(d.sha256, "")
        target = files / d.filename
        if url.startswith("file:") and not _has(target, d.sha256):
            source = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
            with (
                tempfile.NamedTemporaryFile(dir=files, delete=False) as tmp,
                source.open("rb") as fh,
            ):
                shutil.copyfileobj(fh, tmp)
            os.replace(tmp.name, target)


INSTALLERS = ("uv", "pip")
"""Programs that can install the pip layer; uv (a PyPI wheel, pkgtool depends on it) is the
default: offline from the cached files it installed numpy in 0.1-0.9 s against pip's
4.4-5.7 s here."""


def install_locked(
    python: Path,
    distributions: Sequence[PipDistribution],
    files: Path,
    log: BuildLog,
    installer: str = "uv",
) -> None:
    """Install exactly ``distributions`` into ``python``'s prefix from ``files`` (see
    :func:`fetch_locked`) without any index (``--no-index --find-links``, uv also
    ``--offline``), ``--no-deps``, ``--require-hashes`` (each file must match the lock's
    sha256), and without compiling bytecode (the builder compiles all of it once,
    afterwards). Requirements are ``name==version``, so no ``direct_url.json`` records
    where a file came from. ``installer`` is ``"uv"`` or ``"pip"``; uv reads no user
    configuration (``--no-config``) and uses the user's uv cache, as pip uses pip's.

    Raises:
        BuildError: the installer failed, or a hash did not match.
    """
    if not distributions:
        return
    lines = [f"{d.name}=={d.version} --hash=sha256:{d.sha256}" for d in distributions]
    if installer == "pip":
        extra = ["--no-index", "--find-links", str(files), "--no-deps", "--require-hashes",
                 "--no-compile"]  # fmt: skip
        _pip(python, lines, extra, log, requested=[d.name for d in distributions])
        return
    import uv

    with tempfile.TemporaryDirectory(prefix="pkgtool-uv-") as tmp:
        # A directory of exactly the locked files; its path is stable per set of files, so
        # uv's own cache (keyed by it) is reused by the next build.
        digest = hashlib.sha256(" ".join(d.sha256 for d in distributions).encode()).hexdigest()
        links = files.parent / "uv-find-links" / digest[:16]
        shutil.rmtree(links, ignore_errors=True)
        links.mkdir(parents=True)
        for d in distributions:
            _link_or_copy(files / d.filename, links / d.filename)
        reqs = Path(tmp, "requirements.txt")
        reqs.write_text("\n".join(lines) + "\n", encoding="utf-8")
        cmd = [
            uv.find_uv_bin(), "pip", "install", "--python", str(python), "--no-config",
            "--offline", "--no-index", "--find-links", str(links), "--no-deps",
            "--require-hashes", "--link-mode", "hardlink", "-r", str(reqs),
        ]  # fmt: skip
        # uv's own cache is the user's (as pip's is): what it holds never reaches the
        # installed bytes, which come from the locked files alone.
        proc = _proc.run(cmd, log, env=_pip_environ())
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["uv failed"])[-1]
        raise BuildError(
            f"installing the pip layer failed: {last}", hint=log.hint("see uv's output")
        )
    _drop_uv_cache_info(python.parent.parent)


def _drop_uv_cache_info(prefix: Path) -> None:
    """Remove the ``uv_cache.json`` uv writes into each dist-info it installs from a local
    file, and its RECORD row (PEP 376 RECORD is a CSV of the installed files). uv keeps
    there the source file's ctime, for its own re-install checks, so the bytes would
    depend on when the file was fetched; nothing else reads it."""
    for info in prefix.glob("lib/python*/site-packages/*.dist-info/uv_cache.json"):
        record = info.with_name("RECORD")
        name = f"{info.parent.name}/uv_cache.json,"
        rows = record.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = "".join(r for r in rows if not r.startswith(name))
        info.unlink()
        tmp = record.with_name(".RECORD.tmp")
        tmp.write_text(kept, encoding="utf-8")
        os.replace(tmp, record)  # a new file: never write into a file uv hard-linked


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _has(path: Path, sha256: str) -> bool:
    try:
        return sha256_file(path) == sha256
    except OSError:
        return False


def _pip(
    python: Path,
    lines: list[str],
    extra: list[str],
    log: BuildLog,
    *,
    requested: Sequence[str],
    command: str = "install",
) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="pkgtool-pip-") as tmp:
        reqs = Path(tmp, "requirements.txt")
        reqs.write_text("\n".join(lines) + "\n", encoding="utf-8")
        report = Path(tmp, "report.json")
        cmd = [
            sys.executable, "-m", "pip", "--python", str(python), command,
            "--no-input", "--disable-pip-version-check", "-r", str(reqs), *extra,
        ]  # fmt: skip
        if command == "install":
            cmd += ["--no-warn-script-location", "--report", str(report)]
        proc = _proc.run(cmd, log, env=_pip_environ())
        if proc.returncode != 0:
            raise _pip_error(proc.stderr, requested, log)
        if command != "install":
            return []
        data = json.loads(report.read_text(encoding="utf-8"))
    items: list[dict[str, Any]] = data.get("install", [])
    return items


def _pip_environ() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_USER"] = "0"
    env["SOURCE_DATE_EPOCH"] = env.get("SOURCE_DATE_EPOCH", str(DEFAULT_EPOCH))
    return env


def _pip_error(stderr: str, requested: Sequence[str], log: BuildLog) -> Exception:
    missing = _NOT_FOUND.search(stderr)
    if missing:
        return ResolutionError(
            f"pip requirement not found on the package index: {missing.group(1)}",
            hint=log.hint(
                "check the distribution name and version on the index "
                "(or fix it with `pkg analyze --pkg-mapping IMPORT=NAME`)"
            ),
        )
    if "ResolutionImpossible" in stderr or "conflicting dependencies" in stderr:
        return ResolutionError(
            f"pip requirements conflict: {', '.join(requested)}",
            hint=log.hint("loosen the pins in the spec's pip list"),
        )
    errors = [ln for ln in stderr.splitlines() if ln.startswith("ERROR:")]
    last = errors[-1] if errors else (stderr.strip().splitlines() or ["pip failed"])[-1]
    if "Network is unreachable" in stderr or "Failed to establish" in stderr:
        return ResolutionError(
            f"package index unreachable: {last}",
            hint=log.hint("check pip's index configuration"),
        )
    if "THESE PACKAGES DO NOT MATCH THE HASHES" in stderr:
        return BuildError(
            f"a pip file does not match the lock's sha256: {last}",
            hint=log.hint("the index serves other bytes under that name; re-lock with --refresh"),
        )
    return BuildError(f"pip install failed: {last}", hint=log.hint("see pip's output"))


def _lock_entry(item: dict[str, Any]) -> PipDistribution:
    """A lock entry from one ``install`` item of pip's installation report (pip docs,
    "Installation Report"); a local file's URL is dropped (the lock stays portable)."""
    info = item.get("download_info", {})
    url = str(info.get("url", ""))
    archive = info.get("archive_info", {})
    sha = (archive.get("hashes") or {}).get("sha256")
    if sha is None and str(archive.get("hash", "")).startswith("sha256="):
        sha = archive["hash"].split("=", 1)[1]
    local = url.startswith("file:")
    if sha is None and local:
        sha = _sha256_file(Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path)))
    meta = item.get("metadata", {})
    name, version = str(meta.get("name")), str(meta.get("version"))
    if sha is None:
        raise ResolutionError(
            f"the package index gave no sha256 for {name} {version} ({url})",
            hint="use an index that publishes hashes (PEP 503), or a local wheel directory",
        )
    filename = urllib.parse.unquote(url.rsplit("/", 1)[-1].split("#", 1)[0])
    return PipDistribution(name, version, None if local else url, filename, sha)


def _sha256_file(path: Path) -> str | None:
    try:
        return sha256_file(path)
    except OSError:
        return None


def check_conda_files_intact(prefix: Path) -> None:
    """Raise BuildError if a conda package's file was deleted or changed in ``prefix``.

    Compares each ``conda-meta/*.json`` ``paths_data`` entry's ``size_in_bytes`` with
    the file on disk (sizes are enough to catch a pip upgrade over a conda package).
    """
    for meta in sorted((prefix / "conda-meta").glob("*.json")):
        record = json.loads(meta.read_text(encoding="utf-8"))
        for entry in (record.get("paths_data") or {}).get("paths", []):
            if entry.get("prefix_placeholder"):
                continue  # rewritten at install time, so its size legitimately differs
            path = prefix / entry["_path"]
            size = entry.get("size_in_bytes")
            try:
                changed = path.lstat().st_size != size and size is not None
            except FileNotFoundError:
                changed = True
            if changed and entry.get("path_type") in (None, "hardlink"):
                raise BuildError(
                    f"pip replaced files of conda package {record['name']}: {entry['_path']}",
                    hint=f"install {record['name']} with one installer only: drop it from "
                    "the spec's pip list or from its conda dependencies",
                )
