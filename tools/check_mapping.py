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
        roots: set[str] = set()
        for top in tops:
            roots |= _roots(top, modules, namespaces)
        return cls(filename, version, frozenset(modules), frozenset(namespaces), frozenset(roots))

    def provides(self, dotted: str) -> bool:
        """True if ``dotted`` is a module or package of the wheel, or a namespace it extends."""
        return dotted in self.modules or dotted in self.namespaces


def _roots(name: str, modules: set[str], namespaces: set[str]) -> set[str]:
    """The import roots at or below ``name``: itself if a module, else its portions."""
    if name in modules:
        return {name}
    if name not in namespaces:
        return set()
    children = {m[len(name) + 1 :].split(".")[0] for m in modules | namespaces}
    children = {c for c in children if f"{name}.{c}" in modules | namespaces}
    below = {f"{name}.{c}" for c in children}
    return set().union(*(_roots(b, modules, namespaces) for b in below)) if below else set()


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
    args = parser.parse_args(argv)
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
