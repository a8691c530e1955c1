"""The pip layer: PEP 508 requirements installed on top of the conda packages.

pip runs from the building interpreter against the new environment's python
(``pip --python <prefix>/bin/python install``, pip >= 22.3), so the environment needs no
pip of its own and pip's configuration (index URL, find-links, certificates) applies.
pip's installation report (``--report``, pip >= 22.2) gives each distribution's URL and
sha256 for the lock.

After the install, :func:`check_conda_files_intact` makes sure pip did not replace or
delete files owned by a conda package: conda-pack would refuse such a prefix, or with
``ignore_missing_files`` ship the old files beside the new metadata (notes).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pkgtool.builder._condapkg import sha256_file
from pkgtool.errors import BuildError, ResolutionError

_NOT_FOUND = re.compile(
    r"(?:No matching distribution found for|"
    r"Could not find a version that satisfies the requirement)\s+(\S+)"
)


def install_requirements(
    python: Path, requirements: Sequence[str], *, locked: Sequence[dict[str, Any]] = ()
) -> list[dict[str, Any]]:
    """Install ``requirements`` (or exactly the ``locked`` entries) into ``python``'s prefix.

    ``locked`` entries are lock dicts (``name``, ``version``, ``url``, ``sha256``); they are
    installed by URL with ``--no-deps --require-hashes``.

    Returns one lock entry per distribution pip installed: ``name``, ``version``, ``url``,
    ``filename``, ``sha256`` (None when the index gave no hash for a remote file).

    Raises:
        ResolutionError: a requirement not found on the index, or conflicting requirements.
        BuildError: pip failed otherwise (a build from source, disk full, ...).
    """
    if locked:
        lines = [f"{e['name']} @ {e['url']} --hash=sha256:{e['sha256']}" for e in locked]
        extra = ["--no-deps", "--require-hashes"]
    else:
        lines, extra = list(requirements), []
    if not lines:
        return []
    with tempfile.TemporaryDirectory(prefix="pkgtool-pip-") as tmp:
        reqs = Path(tmp, "requirements.txt")
        reqs.write_text("\n".join(lines) + "\n", encoding="utf-8")
        report = Path(tmp, "report.json")
        cmd = [
            sys.executable, "-m", "pip", "--python", str(python), "install",
            "--no-input", "--no-warn-script-location", "--disable-pip-version-check",
            "--report", str(report), "-r", str(reqs), *extra,
        ]  # fmt: skip
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=_pip_environ(), stdin=subprocess.DEVNULL
        )
        if proc.returncode != 0:
            raise _pip_error(proc.stderr, requirements or [e["name"] for e in locked])
        data = json.loads(report.read_text(encoding="utf-8"))
    return [_lock_entry(item) for item in data.get("install", [])]


def _pip_environ() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_USER"] = "0"
    return env


def _pip_error(stderr: str, requested: Sequence[str]) -> Exception:
    missing = _NOT_FOUND.search(stderr)
    if missing:
        return ResolutionError(
            f"pip requirement not found on the package index: {missing.group(1)}",
            hint="check the distribution name and version on the index "
            "(or fix it with `pkg analyze --pkg-mapping IMPORT=NAME`)",
        )
    if "ResolutionImpossible" in stderr or "conflicting dependencies" in stderr:
        return ResolutionError(
            f"pip requirements conflict: {', '.join(requested)}",
            hint="loosen the pins in the spec's pip list",
        )
    errors = [ln for ln in stderr.splitlines() if ln.startswith("ERROR:")]
    last = errors[-1] if errors else (stderr.strip().splitlines() or ["pip failed"])[-1]
    if "Network is unreachable" in stderr or "Failed to establish" in stderr:
        return ResolutionError(
            f"package index unreachable: {last}", hint="check pip's index configuration"
        )
    return BuildError(f"pip install failed: {last}", hint="run again with --debug for pip's output")


def _lock_entry(item: dict[str, Any]) -> dict[str, Any]:
    info = item.get("download_info", {})
    url = str(info.get("url", ""))
    archive = info.get("archive_info", {})
    sha = (archive.get("hashes") or {}).get("sha256")
    if sha is None and str(archive.get("hash", "")).startswith("sha256="):
        sha = archive["hash"].split("=", 1)[1]
    if sha is None and url.startswith("file://"):
        sha = _sha256_file(Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path)))
    meta = item.get("metadata", {})
    return {
        "name": meta.get("name"),
        "version": meta.get("version"),
        "url": url,
        "filename": urllib.parse.unquote(url.rsplit("/", 1)[-1]),
        "sha256": sha,
    }


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
