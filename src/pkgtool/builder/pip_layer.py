"""The pip layer: PEP 508 requirements installed on top of the conda packages.

The layer is resolved first (:func:`resolve_requirements`) and then installed from the
lock alone (:func:`install_locked`), by uv (the default) or pip (``--installer pip``).
pip runs from the building interpreter against the new environment's python
(``pip --python <prefix>/bin/python install``, pip >= 22.3), so the environment needs no
pip of its own; its dry run's installation report (pip >= 22.2) gives each file's URL and
sha256 for the lock. uv resolves against the same python in two steps: ``uv pip install
--dry-run`` (what to install, given what the conda layer already provides), then ``uv pip
compile --no-deps --format pylock.toml`` of exactly those versions (each file's URL and
sha256, PEP 751). Either way pip's configuration (index URL, extra indexes, find-links,
trusted hosts, certificates) applies: uv is given it on its command line
(:func:`pip_index_options`).

After the install, :func:`check_conda_files_intact` makes sure pip did not replace or
delete files owned by a conda package: conda-pack would refuse such a prefix, or with
``ignore_missing_files`` ship the old files beside the new metadata (notes).
"""

from __future__ import annotations

import configparser
import dataclasses
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import tomllib
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import packaging
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

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
    python: Path,
    requirements: Sequence[str],
    log: BuildLog,
    files: Path,
    installer: str = "uv",
    constraints: Sequence[str] = (),
) -> list[PipDistribution]:
    """Resolve ``requirements`` against ``python``'s environment without installing.

    ``constraints`` (PEP 508, from a requirements file's ``-c``) limit the versions either
    resolver may pick, as pip's constraints files do, without adding requirements: they
    reach uv and pip as a ``-c FILE`` line of the requirements they read.

    Both resolvers run against the environment's own python, so markers, the ABI and what
    the conda layer already provides are those of the target. ``installer`` ``"pip"``:
    pip's ``install --dry-run --report`` (pip >= 22.2), whose report names each file pip
    would install, with its URL and sha256. ``"uv"``: see :func:`_resolve_with_uv` (pip
    when pip's configuration holds an option uv is not given, see
    :func:`pip_index_options`, or for direct references such as ``name @ URL``). uv's lock
    entries carry PEP 503 normalized names.

    Files the report names in local directories are copied into ``files`` (see
    :func:`fetch_locked`): the lock keeps only their names and hashes.

    Returns one lock entry per distribution to install, sorted by name.

    Raises:
        ResolutionError: a requirement not found on the index, or conflicting requirements.
        BuildError: pip failed otherwise (e.g. building an sdist's metadata).
    """
    if not requirements:
        return []
    direct = any("@" in r or "://" in r or r.startswith((".", "/")) for r in requirements)
    options = pip_index_options() if installer == "uv" and not direct else None
    with tempfile.TemporaryDirectory(prefix="pkgtool-constraints-") as tmp:
        lines = list(requirements)
        if constraints:
            path = Path(tmp, "constraints.txt")
            path.write_text("\n".join(constraints) + "\n", encoding="utf-8")
            lines.append(f"-c {path}")
        if options is not None:
            found, urls = _resolve_with_uv(python, requirements, options, log, lines)
        else:
            report = _pip(python, lines, ["--dry-run"], log, requested=requirements)
            found = [_lock_entry(item) for item in report]
            urls = {e.sha256: str(i.get("download_info", {}).get("url", "")) for e, i in
                    zip(found, report, strict=True)}  # fmt: skip
    found.sort(key=lambda d: d.name.lower())
    keep_local_files(found, urls, files)
    return found


@dataclasses.dataclass(frozen=True)
class IndexOptions:
    """pip's index configuration as uv options: ``args`` for uv's command line, ``env``
    for its environment (certificate files)."""

    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]


_TRANSLATED = {"index-url", "extra-index-url", "find-links", "no-index", "trusted-host",
               "constraint", "cert", "client-cert", "proxy"}  # fmt: skip
_HARMLESS = {"timeout", "default-timeout", "retries", "disable-pip-version-check", "no-input",
             "quiet", "verbose", "progress-bar", "no-color", "cache-dir", "no-cache-dir",
             "root-user-action", "no-warn-script-location", "log", "exists-action", "user",
             "python", "break-system-packages", "require-virtualenv"}  # fmt: skip
"""pip options that do not change what a resolution picks."""


def pip_index_options(environ: Mapping[str, str] | None = None) -> IndexOptions | None:
    """pip's configuration for ``pip install`` as uv options, or None when it sets an option
    that changes resolution and is not translated (``pre``, ``only-binary``,
    ``no-binary``...): then pip resolves.

    Read as pip documents it (pip user guide, "Configuration"): the files
    ``$XDG_CONFIG_DIRS/pip/pip.conf`` (default ``/etc/xdg``), ``/etc/pip.conf``,
    ``~/.pip/pip.conf``, ``$XDG_CONFIG_HOME/pip/pip.conf`` (default ``~/.config``), the
    building interpreter's ``sys.prefix/pip.conf``, then ``$PIP_CONFIG_FILE`` (``os.devnull``
    there: no files at all), later ones overriding; in each file ``[install]`` overrides
    ``[global]``; ``PIP_<OPTION>`` environment variables override every file. Translated:
    ``index-url``, ``extra-index-url``, ``find-links``, ``no-index``, ``constraint``,
    ``trusted-host`` (``--allow-insecure-host``), ``cert`` and ``client-cert`` (``SSL_CERT_FILE``,
    ``SSL_CLIENT_CERT``), ``proxy`` (``HTTPS_PROXY``/``HTTP_PROXY``). Candidates from every
    index are compared as pip does (``--index-strategy unsafe-best-match``).
    """
    env = os.environ if environ is None else environ
    values: dict[str, str] = {}
    for path in _pip_config_files(env):
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            return None
        for section in ("global", "install"):
            if parser.has_section(section):
                values.update({k.lower(): v for k, v in parser.items(section)})
    for name, value in env.items():
        if name.startswith("PIP_") and name != "PIP_CONFIG_FILE":
            values[name[4:].lower().replace("_", "-")] = value
    if set(values) - _TRANSLATED - _HARMLESS:
        return None
    args = ["--index-strategy", "unsafe-best-match"]
    if "index-url" in values:
        args += ["--default-index", values["index-url"].strip()]
    for key, flag in (("extra-index-url", "--index"), ("find-links", "--find-links"),
                      ("constraint", "--constraints"),
                      ("trusted-host", "--allow-insecure-host")):  # fmt: skip
        for item in values.get(key, "").split():
            args += [flag, item]
    if values.get("no-index", "").strip().lower() in ("1", "true", "yes", "on"):
        args.append("--no-index")
    extra = []
    for key, names in (("cert", ("SSL_CERT_FILE",)), ("client-cert", ("SSL_CLIENT_CERT",)),
                       ("proxy", ("HTTPS_PROXY", "HTTP_PROXY"))):  # fmt: skip
        if values.get(key, "").strip():
            extra += [(n, values[key].strip()) for n in names]
    return IndexOptions(tuple(args), tuple(extra))


def _pip_config_files(env: Mapping[str, str]) -> list[Path]:
    chosen = env.get("PIP_CONFIG_FILE")
    if chosen == os.devnull:
        return []
    home = Path(env.get("HOME") or Path.home())
    dirs = (env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":")
    files = [Path(d, "pip", "pip.conf") for d in dirs if d]
    files += [Path("/etc/pip.conf"), home / ".pip" / "pip.conf"]
    files.append(Path(env.get("XDG_CONFIG_HOME") or home / ".config", "pip", "pip.conf"))
    files.append(Path(sys.prefix, "pip.conf"))
    if chosen:
        files.append(Path(chosen))
    return [f for f in files if f.is_file()]


def _resolve_with_uv(
    python: Path, requirements: Sequence[str], options: IndexOptions, log: BuildLog,
    lines: Sequence[str] | None = None,
) -> tuple[list[PipDistribution], dict[str, str]]:  # fmt: skip
    """uv's resolution: ``uv pip install --dry-run`` names what to install into ``python``'s
    environment (what it already has counts, as with pip); ``uv pip compile --no-deps
    --format pylock.toml`` of those exact versions gives each file's URL and sha256 (PEP
    751: one wheel per package for the given python, else its sdist). Returns the lock
    entries and each file's URL by sha256. ``lines`` (default: ``requirements``) is what
    the dry run reads (``requirements`` plus a ``-c FILE`` line)."""
    import uv

    env = {**_pip_environ(), **dict(options.env)}
    common = ["--python", str(python), "--no-config", *options.args]
    with tempfile.TemporaryDirectory(prefix="pkgtool-uv-") as tmp:
        reqs = Path(tmp, "requirements.txt")
        reqs.write_text("\n".join(lines or requirements) + "\n", encoding="utf-8")
        cmd = [uv.find_uv_bin(), "pip", "install", "--dry-run", *common, "-r", str(reqs)]
        proc = _proc.run(cmd, log, env=env)
        if proc.returncode != 0:
            raise _uv_error(proc.stderr, requirements, log)
        pins = [f"{m[1]}=={m[2]}" for m in _WOULD_INSTALL.finditer(proc.stderr)]
        counted = _WOULD_COUNT.search(proc.stderr)
        if len(pins) != (int(counted[1]) if counted else 0):
            raise BuildError(
                "uv's dry run listed what it would install in an unknown form",
                hint=log.hint("resolve with --installer pip"),
            )
        if not pins:
            return [], {}
        reqs.write_text("\n".join(pins) + "\n", encoding="utf-8")
        out = Path(tmp, "pylock.toml")
        cmd = [uv.find_uv_bin(), "pip", "compile", "--quiet", *common, "--no-deps",
               "--no-header", "--format", "pylock.toml", "-o", str(out), str(reqs)]  # fmt: skip
        proc = _proc.run(cmd, log, env=env)
        if proc.returncode != 0:
            raise _uv_error(proc.stderr, requirements, log)
        data = tomllib.loads(out.read_text(encoding="utf-8"))
    found, urls = [], {}
    spelled = _requested_names(requirements)
    ranks: dict[str, int] = {}  # listed once, and only when a package has several wheels
    for package in data.get("packages", []):
        if len(package.get("wheels") or []) > 1 and not ranks:
            ranks = _tag_ranks(python, log)
        entry, url = _pylock_entry(package, ranks, log)
        entry = dataclasses.replace(
            entry, name=spelled.get(canonicalize_name(entry.name), entry.name)
        )
        found.append(entry)
        urls[entry.sha256] = url
    if len(found) != len(pins):
        raise BuildError(
            f"uv locked {len(found)} files for {len(pins)} distributions",
            hint=log.hint("see uv's output, or resolve with --installer pip"),
        )
    return found, urls


def _requested_names(requirements: Sequence[str]) -> dict[str, str]:
    """PEP 503 normalized name -> the spelling of the spec's requirement (``PyYAML``), which
    names the distribution in the lock as pip's report would (uv prints normalized names)."""
    out: dict[str, str] = {}
    for text in requirements:
        try:
            name = Requirement(text).name
        except InvalidRequirement:
            continue
        out[canonicalize_name(name)] = name
    return out


_WOULD_INSTALL = re.compile(r"^ \+ ([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$", re.MULTILINE)
"""One line of ``uv pip install --dry-run``'s list of what it would install."""
_WOULD_COUNT = re.compile(r"^Would install (\d+) packages?$", re.MULTILINE)


_TAGS_SCRIPT = (
    "import sys; sys.path.insert(0, sys.argv[1]); from packaging.tags import sys_tags; "
    "print(' '.join(str(t) for t in sys_tags()))"
)


def _tag_ranks(python: Path, log: BuildLog) -> dict[str, int]:
    """The wheel tags ``python`` supports (PEP 425), most preferred first, as tag -> rank:
    ``packaging.tags.sys_tags()`` run by that interpreter (the order pip and uv use)."""
    where = str(Path(packaging.__file__).resolve().parent.parent)
    proc = _proc.run([str(python), "-I", "-c", _TAGS_SCRIPT, where], log)
    if proc.returncode != 0:
        raise BuildError(
            f"cannot list the wheel tags of {python}",
            hint=log.hint("see the interpreter's output"),
        )
    return {tag: rank for rank, tag in enumerate(proc.stdout.split())}


def _best_wheel(wheels: Sequence[Mapping[str, Any]], ranks: Mapping[str, int]) -> list[Any]:
    """The wheel of ``wheels`` (pylock.toml tables) whose best tag ranks first in
    ``ranks``, as a one-item list; ``[]`` when none is compatible or a name is no wheel's."""
    best: tuple[int, Mapping[str, Any]] | None = None
    for wheel in wheels:
        name = urllib.parse.unquote(str(wheel.get("url", "")).rsplit("/", 1)[-1])
        try:
            tags = parse_wheel_filename(name.split("#", 1)[0])[3]
        except InvalidWheelFilename:
            return []
        rank = min((ranks[str(t)] for t in tags if str(t) in ranks), default=None)
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, wheel)
    return [best[1]] if best else []


def _pylock_entry(
    package: Mapping[str, Any], ranks: Mapping[str, int], log: BuildLog
) -> tuple[PipDistribution, str]:
    """The lock entry of one ``[[packages]]`` table of a pylock.toml (PEP 751) and its URL;
    a local file's URL is dropped from the entry (the lock stays portable). uv lists every
    wheel the platform could use (``cp311-manylinux`` and ``py3-none-any``, say): the one
    whose tag ``ranks`` (see :func:`_tag_ranks`) prefers is taken, as an installer would."""
    name, version = str(package.get("name")), str(package.get("version"))
    wheels = package.get("wheels") or []
    if len(wheels) > 1:
        wheels = _best_wheel(wheels, ranks)
    files = wheels if wheels else [package["sdist"]] if "sdist" in package else []
    sha = str((files[0].get("hashes") or {}).get("sha256", "")) if len(files) == 1 else ""
    url = str(files[0].get("url", "")) if len(files) == 1 else ""
    if not sha or not url:
        raise BuildError(
            f"uv named no single file with a sha256 for {name} {version}",
            hint=log.hint("see uv's output, or resolve with --installer pip"),
        )
    filename = urllib.parse.unquote(url.rsplit("/", 1)[-1].split("#", 1)[0])
    local = url.startswith("file:")
    return PipDistribution(name, version, None if local else url, filename, sha), url


def _not_found(name: str, log: BuildLog) -> ResolutionError:
    return ResolutionError(
        f"pip requirement not found on the package index: {name}",
        hint=log.hint(
            "check the distribution name and version on the index "
            "(or fix it with `pkg analyze --pkg-mapping IMPORT=NAME`)"
        ),
    )


def _uv_error(stderr: str, requested: Sequence[str], log: BuildLog) -> Exception:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    text = " ".join(lines)
    missing = re.search(r"(?:Because|and) ([A-Za-z0-9][A-Za-z0-9._-]*) was not found in the "
                        r"(?:package registry|provided package locations)", text)  # fmt: skip
    if missing:
        return _not_found(missing.group(1), log)
    if "No solution found" in text:
        return ResolutionError(
            f"pip requirements conflict: {', '.join(requested)}",
            hint=log.hint("loosen the pins in the spec's pip list"),
        )
    last = next((ln for ln in lines if ln.startswith("error:")), lines[-1] if lines else "")
    if "Failed to fetch" in text or "error sending request" in text:
        return ResolutionError(
            f"package index unreachable: {last}",
            hint=log.hint("check pip's index configuration"),
        )
    return BuildError(f"resolving the pip layer failed: {last or 'uv failed'}",
                      hint=log.hint("see uv's output"))  # fmt: skip


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
        return _not_found(missing.group(1), log)
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
