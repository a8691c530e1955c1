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

import json
import os
import re
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
    python: Path, requirements: Sequence[str], log: BuildLog
) -> list[PipDistribution]:
    """Resolve ``requirements`` against ``python``'s environment without installing.

    pip's ``install --dry-run --report`` (pip >= 22.2) runs against the environment's own
    python, so markers, the ABI and what the conda layer already provides are those of the
    target; its report names each file pip would install, with its URL and sha256.

    Returns one lock entry per distribution to install, sorted by name.

    Raises:
        ResolutionError: a requirement not found on the index, or conflicting requirements.
        BuildError: pip failed otherwise (e.g. building an sdist's metadata).
    """
    if not requirements:
        return []
    report = _pip(python, list(requirements), ["--dry-run"], log,
                  requested=requirements)  # fmt: skip
    return sorted((_lock_entry(item) for item in report), key=lambda d: d.name.lower())


def install_locked(python: Path, distributions: Sequence[PipDistribution], log: BuildLog) -> None:
    """Install exactly ``distributions`` into ``python``'s prefix: ``--no-deps``,
    ``--require-hashes`` (each file must match the lock's sha256), and ``--no-compile``
    (the builder compiles all bytecode once, afterwards).

    Raises:
        ResolutionError: a locked file is not on the configured index.
        BuildError: pip failed otherwise, or a hash did not match.
    """
    if not distributions:
        return
    lines = [d.requirement_line for d in distributions]
    _pip(python, lines, ["--no-deps", "--require-hashes", "--no-compile"], log,
         requested=[d.name for d in distributions])  # fmt: skip


def _pip(
    python: Path,
    lines: list[str],
    extra: list[str],
    log: BuildLog,
    *,
    requested: Sequence[str],
) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="pkgtool-pip-") as tmp:
        reqs = Path(tmp, "requirements.txt")
        reqs.write_text("\n".join(lines) + "\n", encoding="utf-8")
        report = Path(tmp, "report.json")
        cmd = [
            sys.executable, "-m", "pip", "--python", str(python), "install",
            "--no-input", "--no-warn-script-location", "--disable-pip-version-check",
            "--report", str(report), "-r", str(reqs), *extra,
        ]  # fmt: skip
        proc = _proc.run(cmd, log, env=_pip_environ())
        if proc.returncode != 0:
            raise _pip_error(proc.stderr, requested, log)
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
