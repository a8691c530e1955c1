#!/usr/bin/env python3
"""Check the built-in import-name table against the real wheels of distributions.

Usage::

    python tools/check_mapping.py DIST [DIST...] [--all] [--json] [--table PATH]
                                  [--jobs N] [--record] [--skip DIST]...

For each distribution, ``pip download --no-deps --only-binary=:all:`` fetches its newest
wheel for this interpreter and platform into a temporary directory (pip's own index
configuration applies). The import names the wheel provides are read from its
``.dist-info``: the top-level names of ``top_level.txt`` when present, else the top-level
entries of ``RECORD`` (packages with ``__init__.py``, modules ``*.py``/``*.so``/``*.pyd``);
a top-level name that is a namespace package (PEP 420: no ``__init__.py``; or listed in
``namespace_packages.txt``) is replaced by the dotted portions below it
(``google/cloud/storage/__init__.py`` -> ``google.cloud.storage``).

Two kinds of mismatch are reported, one line each:

(a) a table entry names this distribution but the wheel provides no such module;
(b) the wheel provides an import name the analyzer would get wrong without the table: a
    name whose top-level part differs from the distribution's PEP 503 normalized name (or
    any dotted namespace portion) that the table lacks or maps to another distribution
    (unless the entry lists this distribution under ``also``). Private names (``_x``,
    ``a._b``) and stray ``tests``/``setup``/``conftest``-like modules are not required.

Exit status: 0 consistent, 1 any mismatch, 2 usage error, 4 a download failed or no
wheel exists for this platform (only an sdist, say) and there was no mismatch.
``--all`` checks every distribution in the table (several hundred downloads; about ten
minutes with ``--jobs 12``); ``--skip`` leaves giants such as ``torch`` out. An entry with
an ``unchecked`` reason (``distutils``, provided by a setuptools shim) is not required to
be a file of the wheel.
``--record`` marks the entries of each consistent distribution ``"source": "wheel"`` with
the version checked, rewriting the table atomically.

Standard library and ``packaging`` only; this file is not part of the installed package.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_USAGE = 2
EXIT_DOWNLOAD = 4

REPORT_FORMAT = 1
"""Version of the ``--json`` report."""

DEFAULT_TABLE = Path(__file__).resolve().parents[1] / "src/pkgtool/analyzer/data/mapping.json"

_STRAY = frozenset(
    {"test", "tests", "testing", "doc", "docs", "example", "examples", "benchmarks", "setup"}
    | {"conftest"}
)
"""Top-level names some wheels ship by mistake; never required in the table."""


def _required(root: str) -> bool:
    """False for private names (``_x``, ``a._b``, mypyc's ``<hash>__mypyc``) and
    packaging leftovers (``tests``, ``yapftests``, ``setup_sdist``, ``conftest``)."""
    top = root.split(".")[0]
    if top in _STRAY or top.endswith("tests") or top.startswith(("setup_", "sample_")):
        return False
    return not any(part.startswith("_") or part.endswith("__mypyc") for part in root.split("."))


_MODULE_SUFFIXES = (".py", ".so", ".pyd")


@dataclass(frozen=True)
class Entry:
    """One table entry: ``module`` (dotted import name) -> ``distribution``."""

    module: str
    distribution: str
    also: tuple[str, ...] = ()
    unchecked: bool = False


@dataclass(frozen=True)
class Table:
    """The mapping table file: its entries by import name, and the raw JSON object."""

    path: Path
    entries: dict[str, Entry]
    raw: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> Table:
        """Read a format-2 table; raise ``ValueError`` naming the problem."""
        try:
            raw = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: cannot read the table: {exc}") from exc
        if not isinstance(raw, dict) or raw.get("format") != 2:
            raise ValueError(f"{path}: not a mapping table of format 2")
        entries: dict[str, Entry] = {}
        for module, value in raw.get("mapping", {}).items():
            if not isinstance(value, dict) or not isinstance(value.get("distribution"), str):
                raise ValueError(f"{path}: entry {module!r} has no distribution")
            also = tuple(value.get("also", ()))
            entries[module] = Entry(module, value["distribution"], also, "unchecked" in value)
        return cls(path, entries, raw)

    def distributions(self) -> list[str]:
        """Every distribution the table names, sorted, one spelling per normalized name."""
        seen: dict[str, str] = {}
        for entry in self.entries.values():
            seen.setdefault(canonicalize_name(entry.distribution), entry.distribution)
        return sorted(seen.values(), key=str.lower)

    def lookup(self, dotted: str) -> Entry | None:
        """The entry for ``dotted`` by longest known prefix, as the analyzer resolves it."""
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            entry = self.entries.get(".".join(parts[:end]))
            if entry is not None:
                return entry
        return None


@dataclass(frozen=True)
class Wheel:
    """What a wheel provides: every importable dotted name, the roots, the namespaces."""

    filename: str
    version: str
    modules: frozenset[str]
    namespaces: frozenset[str]
    roots: frozenset[str]

    @classmethod
    def read(cls, path: Path) -> Wheel:
        """Read the import names of the wheel file at ``path``."""
        _, version, _, _ = parse_wheel_filename(path.name)
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            info = _dist_info_dir(names)
            record = _read(zf, f"{info}/RECORD")
            files = [line.split(",")[0] for line in record.splitlines() if line.strip()]
            files = files or names
            top_level = _read(zf, f"{info}/top_level.txt").split()
            declared = set(_read(zf, f"{info}/namespace_packages.txt").split())
        return cls.from_files(path.name, str(version), files, top_level, declared)

    @classmethod
    def from_files(
        cls,
        filename: str,
        version: str,
        files: Iterable[str],
        top_level: Sequence[str] = (),
        declared_namespaces: Iterable[str] = (),
    ) -> Wheel:
        """Derive the import names from ``files`` (paths relative to the wheel root)."""
        modules: set[str] = set()
        packages_with_files: set[str] = set()
        for name in files:
            path = PurePosixPath(name)
            if ".." in path.parts or not path.parts or _is_metadata(path.parts[0]):
                continue
            if path.suffix not in _MODULE_SUFFIXES or "__pycache__" in path.parts:
                continue
            stem = path.name.split(".")[0]
            dirs = path.parts[:-1]
            if not all(d.isidentifier() for d in dirs):
                continue
            for end in range(1, len(dirs) + 1):
                packages_with_files.add(".".join(dirs[:end]))
            if stem == "__init__":
                if dirs:
                    modules.add(".".join(dirs))
            elif stem.isidentifier():
                modules.add(".".join((*dirs, stem)))
        declared = {n.replace("/", ".") for n in declared_namespaces}
        namespaces = {p for p in packages_with_files if p not in modules or p in declared}
        modules -= declared
        tops = {n.replace("/", ".").split(".")[0] for n in top_level if n.strip()}
        if not tops:
            tops = {m.split(".")[0] for m in modules | namespaces}
        children: dict[str, set[str]] = {}
        for dotted in modules | namespaces:
            parent, _, _ = dotted.rpartition(".")
            if parent:
                children.setdefault(parent, set()).add(dotted)
        roots: set[str] = set()
        for top in tops:
            roots |= _roots(top, modules, namespaces, children)
        return cls(filename, version, frozenset(modules), frozenset(namespaces), frozenset(roots))

    def provides(self, dotted: str) -> bool:
        """True if ``dotted`` is a module or package of the wheel, or a namespace it extends."""
        return dotted in self.modules or dotted in self.namespaces


def _roots(
    name: str,
    modules: set[str],
    namespaces: set[str],
    children: dict[str, set[str]] | None = None,
) -> set[str]:
    """The import roots at or below ``name``: itself if a module, else its portions.

    ``children`` (dotted name -> its direct children among ``modules | namespaces``) is
    built once when not given, so a wheel with tens of thousands of files costs O(files).
    """
    if children is None:
        children = {}
        for dotted in modules | namespaces:
            parent, _, _ = dotted.rpartition(".")
            if parent:
                children.setdefault(parent, set()).add(dotted)
    found: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in modules:
            found.add(current)
        elif current in namespaces:
            todo.extend(children.get(current, ()))
    return found


def _is_metadata(top: str) -> bool:
    return top.endswith((".dist-info", ".data", ".libs", ".pth"))


def _dist_info_dir(names: Iterable[str]) -> str:
    for name in names:
        first = name.split("/")[0]
        if first.endswith(".dist-info"):
            return first
    raise ValueError("the wheel has no .dist-info directory")


def _read(zf: zipfile.ZipFile, name: str) -> str:
    try:
        return zf.read(name).decode("utf-8")
    except KeyError:
        return ""


@dataclass
class Result:
    """The outcome for one distribution; ``status`` is ok, mismatch, skipped or failed."""

    distribution: str
    status: str = "ok"
    version: str | None = None
    wheel: str | None = None
    provides: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def compare(distribution: str, wheel: Wheel, table: Table) -> list[str]:
    """The mismatches between ``table`` and ``wheel`` for ``distribution``, one line each."""
    ours = canonicalize_name(distribution)
    problems: list[str] = []
    for entry in sorted(table.entries.values(), key=lambda e: e.module):
        if entry.unchecked or canonicalize_name(entry.distribution) != ours:
            continue
        if not wheel.provides(entry.module):
            problems.append(
                f"table maps {entry.module!r} to {entry.distribution} "
                "but its wheel provides no such module"
            )
    for root in sorted(wheel.roots):
        if not _required(root):
            continue
        top = root.split(".")[0]
        found = table.lookup(root)
        needed = "." in root or canonicalize_name(top) != ours
        if found is None:
            if needed:
                problems.append(f"wheel provides {root!r} but the table has no entry for it")
        elif canonicalize_name(found.distribution) != ours and ours not in {
            canonicalize_name(a) for a in found.also
        }:
            problems.append(
                f"wheel provides {root!r} but the table maps {found.module!r} "
                f"to {found.distribution}"
            )
    return problems


def download(distribution: str, dest: Path) -> tuple[Path | None, str]:
    """Download the wheel of ``distribution`` into ``dest``: (path or None, reason)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    proc = subprocess.run(
        [*cmd, "--quiet", "--dest", str(dest), distribution],
        capture_output=True,
        text=True,
        check=False,
    )
    wheels = sorted(dest.glob("*.whl"))
    if proc.returncode == 0 and wheels:
        return wheels[0], ""
    index = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", distribution],
        capture_output=True,
        text=True,
        check=False,
    )
    if index.returncode == 0:
        return None, "no wheel for this platform (only an sdist?)"
    lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
    return None, lines[-1].removeprefix("ERROR: ") if lines else "pip download failed"


def check(distribution: str, table: Table) -> Result:
    """Download ``distribution``'s wheel and compare it with ``table``."""
    result = Result(distribution)
    with tempfile.TemporaryDirectory(prefix="check-mapping-") as tmp:
        path, reason = download(distribution, Path(tmp))
        if path is None:
            result.status = "skipped" if reason.startswith("no wheel") else "failed"
            result.problems.append(reason)
            return result
        try:
            wheel = Wheel.read(path)
        except (OSError, ValueError, zipfile.BadZipFile, InvalidWheelFilename) as exc:
            result.status = "failed"
            result.problems.append(f"cannot read {path.name}: {exc}")
            return result
    result.version, result.wheel = wheel.version, wheel.filename
    result.provides = sorted(wheel.roots)
    result.problems = compare(distribution, wheel, table)
    result.status = "mismatch" if result.problems else "ok"
    return result


def record(table: Table, results: Sequence[Result]) -> int:
    """Mark the entries of consistent distributions as wheel-verified; return how many."""
    verified = {canonicalize_name(r.distribution): r.version for r in results if r.status == "ok"}
    count = 0
    for value in table.raw["mapping"].values():
        version = verified.get(canonicalize_name(value["distribution"]))
        if version is not None and "unchecked" not in value:
            value.pop("ref", None)
            value["source"], value["checked"] = "wheel", version
            count += 1
    text = dump_table(table.raw)
    tmp = table.path.with_name(f".{table.path.name}.tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, table.path)
    return count


def dump_table(raw: Mapping[str, Any]) -> str:
    """The table as JSON text: header keys first, then one entry per line, sorted."""
    head = {k: v for k, v in raw.items() if k != "mapping"}
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    entries = sorted(raw["mapping"].items(), key=lambda kv: kv[0].lower())
    body = [f"    {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in entries]
    return "{\n" + "\n".join(lines) + '\n  "mapping": {\n' + ",\n".join(body) + "\n  }\n}\n"


def _line(result: Result) -> list[str]:
    label = result.distribution + (f" {result.version}" if result.version else "")
    if result.status == "ok":
        return [f"ok: {label}: provides {', '.join(result.provides) or 'nothing importable'}"]
    return [f"{result.status}: {label}: {p}" for p in result.problems]


# -- mining: the import names of the most-downloaded distributions -------------------------

PYPI_JSON = "https://pypi.org/pypi/{name}/{version}/json"
"""The PyPI JSON API for one release: its files only (the project URL lists every
release's files, megabytes for boto3 or tf-nightly)."""
MAX_WHEEL_BYTES = 100 * 1024 * 1024
"""Wheels larger than this (100 MB) are skipped with a recorded reason (torch, CUDA stacks)."""
TAIL_BYTES = 256 * 1024
"""The first range request reads this much of a wheel's end: the zip central directory."""


@dataclass(frozen=True)
class Mined:
    """One distribution's mining outcome: ``roots`` its import roots (empty when skipped),
    ``reason`` why it was skipped (empty when mined), ``rank`` its download rank."""

    distribution: str
    rank: int
    version: str = ""
    wheel: str = ""
    roots: tuple[str, ...] = ()
    reason: str = ""


def top_distributions(packages: Path, count: int) -> list[tuple[int, str]]:
    """``(rank, name)`` of the ``count`` most-downloaded distributions in ``packages`` (a
    TSV with ``name`` and ``rank_among_15000_most_downloaded`` columns), best first."""
    return [(rank, name) for rank, name, _ in ranked_releases(packages, count)]


def ranked_releases(packages: Path, count: int) -> list[tuple[int, str, str]]:
    """``(rank, name, version)`` of the ``count`` best-ranked rows of ``packages``; the
    version is the TSV's ``version`` column ("" when it has none)."""
    rows: list[tuple[int, str, str]] = []
    with packages.open(encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        name_i, rank_i = header.index("name"), header.index("rank_among_15000_most_downloaded")
        version_i = header.index("version") if "version" in header else None
        for line in fh:
            cols = line.rstrip("\n").split("\t")
            if len(cols) > rank_i and cols[rank_i].isdigit():
                version = cols[version_i] if version_i is not None else ""
                rows.append((int(cols[rank_i]), cols[name_i], version))
    rows.sort()
    return rows[:count]


def _wheel_preference(filename: str) -> int | None:
    """Lower is better: a pure-Python wheel, then CPython 3 Linux x86_64 builds, then any
    other wheel (None: not a wheel). Import names rarely differ between platforms."""
    if not filename.endswith(".whl"):
        return None
    tags = filename[:-4].split("-")[-3:]
    if tags[-1] == "any":
        return 0 if tags[0].startswith("py3") or "py3" in tags[0] else 1
    if "x86_64" in tags[-1] and "linux" in tags[-1]:
        return 2 if tags[0] in ("cp311", "cp312", "abi3") or tags[1] == "abi3" else 3
    return 4


def _http(url: str, headers: Mapping[str, str] | None = None, timeout: float = 30) -> bytes:
    import urllib.request

    request = urllib.request.Request(
        url, headers={"User-Agent": "pkgtool-check-mapping", **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        data: bytes = response.read()
        return data


def _central_directory(url: str, size: int) -> list[tuple[str, int, int, int]]:
    """``(name, compression, compressed size, local header offset)`` of every member of the
    remote zip at ``url`` (``size`` bytes), read with HTTP range requests only."""
    import struct

    tail_len = min(size, TAIL_BYTES)
    tail = _http(url, {"Range": f"bytes={size - tail_len}-{size - 1}"})
    end = tail.rfind(b"PK\x05\x06")
    if end < 0:
        raise ValueError("no end-of-central-directory record in the last bytes")
    cd_size, cd_offset = struct.unpack("<II", tail[end + 12 : end + 20])
    if 0xFFFFFFFF in (cd_size, cd_offset):
        raise ValueError("zip64 archive (not read by range requests here)")
    start_in_tail = cd_offset - (size - tail_len)
    if start_in_tail >= 0:
        cd = tail[start_in_tail : start_in_tail + cd_size]
    else:
        cd = _http(url, {"Range": f"bytes={cd_offset}-{cd_offset + cd_size - 1}"})
    members: list[tuple[str, int, int, int]] = []
    pos = 0
    while pos + 46 <= len(cd) and cd[pos : pos + 4] == b"PK\x01\x02":
        (method,) = struct.unpack("<H", cd[pos + 10 : pos + 12])
        (csize,) = struct.unpack("<I", cd[pos + 20 : pos + 24])
        nlen, xlen, clen = struct.unpack("<HHH", cd[pos + 28 : pos + 34])
        (offset,) = struct.unpack("<I", cd[pos + 42 : pos + 46])
        name = cd[pos + 46 : pos + 46 + nlen].decode("utf-8", "replace")
        members.append((name, method, csize, offset))
        pos += 46 + nlen + xlen + clen
    return members


def _member_text(url: str, member: tuple[str, int, int, int]) -> str:
    """The text of one small zip member, read with one range request (stored or deflated)."""
    import struct
    import zlib

    _, method, csize, offset = member
    blob = _http(url, {"Range": f"bytes={offset}-{offset + 30 + 1024 + csize}"})
    nlen, xlen = struct.unpack("<HH", blob[26:30])
    data = blob[30 + nlen + xlen : 30 + nlen + xlen + csize]
    raw = zlib.decompress(data, -15) if method == 8 else data
    return raw.decode("utf-8", "replace")


_NO_RELEASE_URL: list[bool] = []
"""Non-empty once the index answered 404 for a per-release URL that the TSV names."""


def mine_one(rank: int, name: str, version: str = "") -> Mined:
    """The import roots of the preferred wheel of release ``version`` of ``name`` (the
    newest release when ""), from the PyPI JSON API and range requests on the wheel: its
    central directory and ``top_level.txt``/``namespace_packages.txt``. Skipped with a
    reason: no wheel (sdist only), > 100 MB, zip64, unreachable."""
    import urllib.parse

    project_api = PYPI_JSON.replace("/{version}", "").format(name=name)
    per_release = version and not _NO_RELEASE_URL
    apis = [PYPI_JSON.format(name=name, version=version)] if per_release else []
    info: dict[str, Any] | None = None
    api, error = project_api, "no answer"
    for api in [*apis, project_api]:  # a mirror may serve the project URL only
        try:
            info = json.loads(_http(api))
            break
        except Exception as exc:  # noqa: BLE001 - any failure is a recorded skip
            error = str(exc)
            if api != project_api and "404" in error:
                _NO_RELEASE_URL.append(True)  # this index serves project URLs only
    if info is None:
        return Mined(name, rank, reason=f"PyPI JSON API: {error}")
    version = str(info["info"]["version"])
    files = info.get("urls") or []
    wheels = [(p, f) for f in files if (p := _wheel_preference(f["filename"])) is not None]
    if not wheels:
        return Mined(name, rank, version, reason="no wheel in the newest release (sdist only)")
    wheels.sort(key=lambda pf: (pf[0], pf[1]["size"]))
    file = wheels[0][1]
    if file["size"] > MAX_WHEEL_BYTES:
        mb = file["size"] / 1e6
        return Mined(name, rank, version, file["filename"], reason=f"wheel of {mb:.0f} MB > 100 MB")
    try:
        url = urllib.parse.urljoin(api, file["url"])  # a mirror may give relative URLs
        members = _central_directory(url, int(file["size"]))
        names = [m[0] for m in members]
        info_dir = _dist_info_dir(names)
        small = {m[0]: m for m in members}
        top = small.get(f"{info_dir}/top_level.txt")
        ns = small.get(f"{info_dir}/namespace_packages.txt")
        top_level = _member_text(url, top).split() if top else []
        declared = _member_text(url, ns).split() if ns else []
    except Exception as exc:  # noqa: BLE001 - any failure is a recorded skip
        return Mined(name, rank, version, file["filename"], reason=f"reading the wheel: {exc}")
    wheel = Wheel.from_files(file["filename"], version, names, top_level, declared)
    roots = tuple(sorted(r for r in wheel.roots if _required(r)))
    return Mined(name, rank, version, file["filename"], roots)


STDLIB_FILES = ("stdlib.json", "stdlib-legacy.json")


def any_stdlib_names() -> frozenset[str]:
    """Every top-level standard-library name of CPython 2.7 to 3.14, from the analyzer's
    data files next to the table (``data/stdlib.json``, ``data/stdlib-legacy.json``)."""
    names: set[str] = set()
    for file in STDLIB_FILES:
        raw = json.loads((DEFAULT_TABLE.parent / file).read_text("utf-8"))
        versions = raw.get("versions", raw)
        for listed in versions.values():
            names.update(listed)
    return frozenset(names)


COLLAPSE_ABOVE = 100
"""A distribution alone under a namespace with more portions than this gets one entry for
the namespace itself (ansible's thousands of ``ansible_collections.*`` portions)."""


def _collapsed(roots: Sequence[str], by_top: Mapping[str, set[str]]) -> list[str]:
    """``roots``, with the portions of a namespace that only this distribution provides
    replaced by the namespace when there are more than :data:`COLLAPSE_ABOVE`."""
    counts: dict[str, int] = {}
    for root in roots:
        counts[root.split(".")[0]] = counts.get(root.split(".")[0], 0) + 1
    big = {top for top, n in counts.items() if n > COLLAPSE_ABOVE and len(by_top[top]) == 1}
    kept = [r for r in roots if r.split(".")[0] not in big]
    return sorted({*kept, *big})


def merge_mined(table: Table, mined: Sequence[Mined]) -> dict[str, int]:
    """Add the mined import roots to ``table.raw`` (in place); return counts by outcome.

    Conflict rule (one import name, several distributions): an entry already in the
    table stays (it was chosen by hand and documented; the other providers go to
    ``also``); otherwise the more downloaded distribution (lower rank) wins, since it is
    the one users who write the import most likely installed (``attr`` -> ``attrs``, not
    the unrelated little ``attr``; ``docx`` -> ``python-docx``); a distribution named
    like the import breaks a tie. Every loser is listed under ``also``.

    Never added: a root whose top-level name is a standard-library module of any CPython
    2.7 to 3.14 (backports such as ``typing``, ``enum34``'s ``enum``, ``futures``'
    ``concurrent``, ``configparser``: the analyzer never emits those names), and a bare
    top-level name the table already knew only dotted portions of (``google``,
    ``azure``: the ``google`` distribution is an unrelated search scraper).
    """
    providers: dict[str, list[Mined]] = {}
    by_top: dict[str, set[str]] = {}
    for m in mined:
        for root in m.roots:
            by_top.setdefault(root.split(".")[0], set()).add(m.distribution)
    for m in mined:
        for root in _collapsed(m.roots, by_top):
            providers.setdefault(root, []).append(m)
    counts = {"added": 0, "kept": 0, "conflicts": 0, "skipped_stdlib": 0}
    mapping = table.raw["mapping"]
    stdlib = any_stdlib_names()
    namespaces = {k.split(".")[0] for k in mapping if "." in k} - set(mapping)
    for root, found in sorted(providers.items()):
        if root.split(".")[0] in stdlib and root not in mapping:
            counts["skipped_stdlib"] += 1
            continue
        if root in namespaces and root not in mapping:
            continue
        found.sort(
            key=lambda m: (m.rank, canonicalize_name(m.distribution) != canonicalize_name(root))
        )
        if len(found) > 1:
            counts["conflicts"] += 1
        existing = mapping.get(root)
        if existing is not None:
            counts["kept"] += 1
            ours = canonicalize_name(existing["distribution"])
            others = [m.distribution for m in found if canonicalize_name(m.distribution) != ours]
            if others:
                existing["also"] = sorted(
                    set(existing.get("also", [])) | set(others), key=str.lower
                )
            continue
        best = found[0]
        entry: dict[str, Any] = {
            "distribution": best.distribution,
            "source": "wheel",
            "checked": best.version,
        }
        if len(found) > 1:
            entry["also"] = sorted({m.distribution for m in found[1:]}, key=str.lower)
        mapping[root] = entry
        counts["added"] += 1
    return counts


def mine(
    packages: Path, count: int, jobs: int, table: Table, report: Path | None, reuse: bool = False
) -> int:
    """Mine the ``count`` most-downloaded distributions, merge into ``table`` and rewrite it
    atomically; write the per-distribution outcome (skips with reasons) to ``report``.
    ``reuse``: read the outcomes from an existing ``report`` instead of the index."""
    names = ranked_releases(packages, count)
    if reuse and report is not None and report.is_file():
        rows = json.loads(report.read_text("utf-8"))["mined"]
        mined = [Mined(**{**r, "roots": tuple(r["roots"])}) for r in rows]
    else:
        done = 0

        def one(rank: int, name: str, version: str) -> Mined:
            nonlocal done
            result = mine_one(rank, name, version)
            done += 1
            if done % 100 == 0:
                print(f"... {done} of {len(names)}", file=sys.stderr, flush=True)
            return result

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            mined = list(pool.map(lambda row: one(*row), names))
    counts = merge_mined(table, [m for m in mined if not m.reason])
    table.raw["mined"] = {
        "distributions": len(names),
        "with_wheel": sum(1 for m in mined if not m.reason),
        "skipped": sum(1 for m in mined if m.reason),
        "source": f"the {count} most-downloaded distributions of {packages.name}",
    }
    text = dump_table(table.raw)
    tmp = table.path.with_name(f".{table.path.name}.tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, table.path)
    if report is not None:
        by_top: dict[str, set[str]] = {}
        for m in mined:
            for root in m.roots:
                by_top.setdefault(root.split(".")[0], set()).add(m.distribution)
        rows = [{**m.__dict__, "roots": _collapsed(m.roots, by_top)} for m in mined]
        report.write_text(
            json.dumps({"format": REPORT_FORMAT, "mined": rows}, indent=1) + "\n", "utf-8"
        )
    skipped = [m for m in mined if m.reason]
    print(
        f"mined {len(mined) - len(skipped)} of {len(mined)} distributions; {counts}",
        file=sys.stderr,
    )
    for m in skipped:
        print(f"skipped: {m.distribution}: {m.reason}", file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="check_mapping.py",
        description="Check the import-name table against the real wheels of distributions.",
    )
    parser.add_argument("distributions", nargs="*", metavar="DIST", help="distribution names")
    parser.add_argument("--all", action="store_true", help="check every table distribution")
    parser.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    parser.add_argument("--table", type=Path, default=DEFAULT_TABLE, help="table to check")
    parser.add_argument("--jobs", type=int, default=4, help="parallel downloads (default 4)")
    parser.add_argument("--record", action="store_true", help="mark verified entries 'wheel'")
    parser.add_argument(
        "--skip", action="append", default=[], metavar="DIST", help="leave DIST out (repeatable)"
    )
    parser.add_argument("--mine", type=int, metavar="N", help="mine the N most-downloaded")
    parser.add_argument("--packages", type=Path, help="TSV of PyPI names with download ranks")
    parser.add_argument("--report", type=Path, help="--mine: write per-distribution outcomes")
    parser.add_argument(
        "--reuse-report", action="store_true", help="--mine: merge the --report, no downloads"
    )
    args = parser.parse_args(argv)
    if args.mine:
        if args.packages is None:
            parser.error("--mine needs --packages")
        table = Table.load(args.table)
        return mine(args.packages, args.mine, args.jobs, table, args.report, args.reuse_report)
    if not args.distributions and not args.all:
        parser.error("name at least one distribution, or pass --all")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    try:
        table = Table.load(args.table)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    skip = {canonicalize_name(name) for name in args.skip}
    names = [
        name
        for name in dict.fromkeys(
            [*args.distributions, *(table.distributions() if args.all else [])]
        )
        if canonicalize_name(name) not in skip
    ]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda name: check(name, table), names))
    if args.json:
        report = {
            "format": REPORT_FORMAT,
            "table": str(args.table),
            "table_version": table.raw.get("version"),
            "results": [r.__dict__ for r in results],
        }
        print(json.dumps(report, indent=2))
    else:
        for result in results:
            print("\n".join(_line(result)))
    if args.record:
        count = record(table, results)
        print(f"recorded {count} entries as wheel-verified in {args.table}", file=sys.stderr)
    statuses = {r.status for r in results}
    if "mismatch" in statuses:
        return EXIT_MISMATCH
    if statuses & {"failed", "skipped"}:
        return EXIT_DOWNLOAD
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
