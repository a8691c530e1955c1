"""Work out what a Python script needs, without importing or running it.

``pkg analyze analysis.py deps.json`` calls :func:`analyze`: the inputs (scripts,
notebooks, directories: :mod:`._inputs`, :mod:`._notebook`) are parsed with :mod:`ast`,
their imports collected (:mod:`._scan`; from the tokens of files that do not parse,
:mod:`._recover`), the scripts' own modules followed in their import roots
(:mod:`._local`, :mod:`._project`), standard-library modules of the *target* Python dropped
(:mod:`._stdlib`), and the rest resolved to distributions with versions and installers
(:mod:`._resolve`). The result is a :class:`~pkgtool.spec.Spec` (DESIGN.md, "The spec")
whose paths are all relative to ``options.spec_dir``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pkgtool.analyzer._annotations import packager_needs
from pkgtool.analyzer._cache import ScanCache, default_cache_dir
from pkgtool.analyzer._environment import Environment, find_environment
from pkgtool.analyzer._inputs import collect_entries
from pkgtool.analyzer._local import Listings, LocalFinder
from pkgtool.analyzer._model import AnalysisResult, AnalyzeOptions, Finding, Problem
from pkgtool.analyzer._notebook import read_bounded
from pkgtool.analyzer._project import declared_requirements, project_root, subproject_of
from pkgtool.analyzer._requirements import (
    check_pin,
    conda_matchspec,
    frozen_dependencies,
    pip_requirement,
    wants_conda,
)
from pkgtool.analyzer._resolve import (
    DistributionIndex,
    Installed,
    Resolver,
    implied_by,
    is_valid_name,
)
from pkgtool.analyzer._results import STATS as RESULT_STATS
from pkgtool.analyzer._results import HashingReader, ResultCache, result_key
from pkgtool.analyzer._scanner import Scanner
from pkgtool.analyzer._stdlib import describe_foreign, parse_version, stdlib_modules
from pkgtool.analyzer._walk import Classifier, Entry, Filter, Found, Walker
from pkgtool.errors import UsageError
from pkgtool.names import conda_name
from pkgtool.spec import DEFAULT_CHANNELS, Analysis, CodeSection, ImportRecord, Spec

__all__ = ["AnalysisResult", "AnalyzeOptions", "Finding", "Problem", "analyze", "check_function"]


def analyze(scripts: Sequence[Path], options: AnalyzeOptions) -> AnalysisResult:
    """Analyse ``scripts`` and build their spec.

    ``scripts`` are paths (relative or absolute) of Python scripts, Jupyter notebooks
    (``.ipynb``) or directories searched for both (:mod:`._inputs`). Each script's
    imports are looked up as Python does: its own directory (``sys.path[0]``), then its
    project root and ``src/`` (:mod:`._project`). Each import root that provides local
    files becomes one ``spec.code`` section (root relative to ``options.spec_dir``,
    files relative to the root), sorted by root. A script given twice counts once.
    Files that cannot be parsed are reported in ``problems`` (``path:line: message``),
    their imports are recovered from their tokens (``Problem.recovered``) and are in
    the spec, and the other files are still analysed. Nothing from the scripts is
    imported or executed.

    With ``options.cache`` (and not ``options.freeze``), a previous result is returned
    when the inputs, options and environment are the same and no file, directory
    listing or installed distribution it depends on changed (:mod:`._results`); files
    are scanned through the per-file scan cache (:mod:`._cache`) otherwise.

    Raises:
        InputError: a script is missing or unreadable, or a directory holds no script
            or notebook (exit 3).
        UsageError: no script, ``options.python_version`` is not a supported "X.Y", or
            a ``pkg_mapping`` entry is not ``import.name -> distribution-name``.
    """
    located = find_environment(
        options.python, os.environ, default_cache_dir() if options.cache else None
    )
    env = located.env
    default = _minor(env.version) if env else None
    version = parse_version(options.python_version or default)
    _check_mapping(options.pkg_mapping)
    check_pin(options.pin)
    entries = collect_entries(scripts, _home())
    index = DistributionIndex(env.path, env.prefix) if env else DistributionIndex(path=())
    db = ScanCache.from_env() if options.cache else None
    results: ResultCache | None = None
    if db is not None and options.freeze:
        RESULT_STATS.bypassed += 1  # pipdeptree's answer is not covered by the key
    elif db is not None:
        key = result_key(scripts, options, version, env, entries)
        results = ResultCache(db, key, index.fingerprint())
        cached = results.load()
        if cached is not None:
            return cached
    reader = HashingReader() if results is not None else None
    listings = Listings()
    spec_dir = Path(os.path.abspath(options.spec_dir))
    stdlib = stdlib_modules(version)
    resolver = Resolver(index, options.pkg_mapping)

    def namespace_allowed(name: str) -> bool:
        return name not in stdlib and not index.provides(name)

    finders: dict[tuple[Path, ...], LocalFinder] = {}

    def finder_for(entry: Entry) -> LocalFinder:
        key = (entry.search_dir or entry.file.parent, *entry.roots)
        if key not in finders:
            finders[key] = LocalFinder(key[0], namespace_allowed, key[1:], stdlib, listings)
        return finders[key]

    def foreign(top: str) -> str | None:
        return None if top in resolver.table else describe_foreign(top, version)

    classifier = Classifier(
        stdlib, lambda dotted: resolver.user_choice(dotted) is not None, foreign
    )
    scanner = Scanner(db, read=reader.read) if reader is not None else Scanner(db)
    flt = Filter(options.toplevel, options.function)
    walker = Walker(version, flt, classifier, finder_for, scanner)
    walked = walker.run(entries)
    notes = _packager_needs(entries, options.function, walked.found) if options.function else []

    builder = _SpecBuilder(spec_dir, resolver, options.conda, env is not None)
    records = builder.records(walked.found)
    code = _code_sections(_code_roots(walked.local_roots, entries, options.function), spec_dir)
    target = f"{version[0]}.{version[1]}"
    analysis = Analysis(
        python=_full_version(target, env),
        entry_points=tuple(_rel(e.file, spec_dir) for e in entries),
        imports=records,
        environment=located.describe(),
    )
    dependencies, pip = builder.dependencies(target, options, env)
    declared = _declared(walked.local_roots, entries, spec_dir, target)
    dependencies, pip = _merge_declared(dependencies, pip, records, declared)
    spec = Spec(
        channels=DEFAULT_CHANNELS,
        dependencies=dependencies,
        pip=pip,
        code=code,
        env={},
        analysis=analysis,
    )
    findings = (
        *walked.findings,
        *notes,
        *builder.findings,
        *(note for note, _ in declared),
        *_unresolved(records, resolver),
    )
    result = AnalysisResult(spec, tuple(walked.problems), records, findings)
    if results is not None and reader is not None:
        results.save(result, reader, listings.seen)
    return result


def _code_roots(
    local_roots: Mapping[Path, Path], entries: Sequence[Entry], function: str | None
) -> dict[Path, Path]:
    """The local files to bundle (file -> import root); with ``function`` the entry scripts
    too, since ``pkg call`` imports the function's script from the code layer."""
    roots = dict(local_roots)
    if function:
        for e in entries:
            if e.file.suffix == ".py":
                roots.setdefault(e.file, e.search_dir or e.file.parent)
    return roots


def _packager_needs(entries: Sequence[Entry], function: str, found: list[Found]) -> list[Finding]:
    """Add to ``found`` the modules ``pkg call``'s packagers need for ``function``'s
    annotations (pyarrow for a ``pandas.DataFrame``: :mod:`._annotations`), as required
    imports at the annotation; a finding for each module added says why."""
    have = {f.top for f in found}
    shown = {e.file: e.display for e in entries}
    notes = []
    for need in packager_needs([e.file for e in entries], function):
        if need.module in have:
            continue
        found.append(Found(need.module, "external", need.file, need.line, False, "import"))
        message = f"required by pkg call for {function}'s {need.type}: {need.why}"
        notes.append(Finding(shown.get(need.file, str(need.file)), need.line, need.module, message))
    return notes


def _declared(
    local_roots: Mapping[Path, Path], entries: Sequence[Entry], spec_dir: Path, target: str
) -> list[tuple[Finding, list[Requirement]]]:
    """The requirements declared by each sub-project whose code the walk reached (an
    import root under a directory with its own packaging file, not the entry scripts'
    own project: :func:`._project.declared_requirements`), with a finding naming them.
    Requirements whose environment marker is false on the target are left out."""
    found: list[tuple[Finding, list[Requirement]]] = []
    own = {project_root(e.file.parent, _home()) for e in entries}
    env = {"python_version": target, "sys_platform": "linux", "os_name": "posix"}
    for sub in sorted({s for r in set(local_roots.values()) if (s := subproject_of(r))}):
        if sub in own:
            continue
        wanted: list[Requirement] = []
        for text in declared_requirements(sub):
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            if req.marker is None or req.marker.evaluate(env):
                wanted.append(req)
        if wanted:
            names = ", ".join(str(r) for r in wanted)
            message = f"sub-project imported by the code; its declared requirements count: {names}"
            found.append((Finding(_rel(sub, spec_dir), None, sub.name, message), wanted))
    return found


def _merge_declared(
    conda: tuple[str, ...],
    pip: tuple[str, ...],
    records: Sequence[ImportRecord],
    declared: Sequence[tuple[Finding, list[Requirement]]],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(conda, pip)`` with the declared requirements of sub-projects that no conda
    dependency, pip requirement or resolved import already names (those keep their pins)
    added to ``pip`` (and ``pip`` itself to ``conda`` when it was not needed before)."""
    have = {canonicalize_name(re.split(r"[=<>!~\[; ]", p, maxsplit=1)[0]) for p in pip}
    have |= {canonicalize_name(re.split(r"[=<>!~ ]", c, maxsplit=1)[0]) for c in conda}
    have |= {canonicalize_name(r.distribution) for r in records if r.distribution}
    extra: dict[str, str] = {}
    for _, wanted in declared:
        for req in wanted:
            key = canonicalize_name(req.name)
            if key not in have and key not in extra:
                req.marker = None
                extra[key] = str(req)
    if not extra:
        return conda, pip
    if "pip" not in conda:
        conda = (conda[0], "pip", *conda[1:])
    return conda, tuple(sorted((*pip, *extra.values()), key=str.lower))


def _minor(version: str) -> str:
    """``"3.11.7"`` -> ``"3.11"``."""
    return ".".join(version.split(".")[:2])


def _full_version(target: str, env: Environment | None) -> str:
    """The full version of the interpreter that supplied versions when it is the target,
    else the target ``X.Y``."""
    full = env.version if env else target
    return full if _minor(full) == target else target


def _unresolved(records: Sequence[ImportRecord], resolver: Resolver) -> list[Finding]:
    """A finding for each external import no distribution could be given for (a name
    under a shared namespace that no table entry or installed distribution knows)."""
    found: list[Finding] = []
    for r in records:
        if r.installer == "local" or r.distribution is not None:
            continue
        path, _, line = (r.sites[0] if r.sites else "").rpartition(":")
        top = r.module.split(".")[0]
        message = (
            "no valid distribution name for this import"
            if "." not in r.module
            else f"unresolved name under the shared namespace {top!r}"
        )
        hint = f"name its distribution: --pkg-mapping {r.module}=DISTRIBUTION"
        found.append(Finding(path, int(line) if line.isdigit() else None, r.module, message, hint))
    return found


def _home() -> Path | None:
    """The user's home directory, which bounds the search for project roots."""
    try:
        return Path.home()
    except (RuntimeError, KeyError):  # no HOME and no passwd entry
        return None


def _code_sections(local_roots: Mapping[Path, Path], spec_dir: Path) -> tuple[CodeSection, ...]:
    """One section per import root: ``root`` relative to ``spec_dir``, ``include`` the
    files relative to the root (so bundling puts ``src/pkg/x.py`` at ``pkg/x.py``)."""
    by_root: dict[str, list[str]] = {}
    for file, root in local_roots.items():
        by_root.setdefault(_rel(root, spec_dir), []).append(_rel(file, root))
    return tuple(
        CodeSection(root=root, include=tuple(sorted(files)), exclude=())
        for root, files in sorted(by_root.items())
    )


def _check_mapping(mapping: Mapping[str, str]) -> None:
    for module, distribution in mapping.items():
        if not all(p.isidentifier() for p in module.split(".")) or not is_valid_name(distribution):
            raise UsageError(
                f"invalid package mapping {module}={distribution}",
                hint="give IMPORT=DISTRIBUTION, e.g. --pkg-mapping yaml=PyYAML",
            )


_DEF = re.compile(r"\bdef\s+([A-Za-z_]\w*)\s*\(")


def check_function(scripts: Sequence[Path], name: str) -> None:
    """Refuse ``--function NAME`` when no entry script among ``scripts`` defines a
    function ``NAME`` (for ``Class.method``, its last part); :func:`analyze` would then
    silently keep only the top-level imports. A textual search for ``def NAME(`` in the
    entry scripts (notebooks included), which :func:`analyze` follows for ``function``.

    Raises:
        UsageError: no such function (the message names it; the hint lists the
            functions the scripts define).
        InputError: a script is missing, as in :func:`analyze`.
    """
    entries = collect_entries(scripts, _home())
    defined: set[str] = set()
    for entry in entries:
        try:
            defined.update(_DEF.findall(read_bounded(entry.file).decode("utf-8", "replace")))
        except OSError:
            continue  # analyze() reports unreadable files
    if name.rsplit(".", 1)[-1] in defined:
        return
    where = ", ".join(e.display for e in entries[:3]) + (" ..." if len(entries) > 3 else "")
    known = ", ".join(sorted(defined)[:8]) + (", ..." if len(defined) > 8 else "")
    raise UsageError(
        f"--function {name}: no function of that name in {where}",
        hint=f"functions defined there: {known}" if known else "the scripts define no function",
    )


def _rel(path: Path, start: Path) -> str:
    """``path`` relative to ``start``, POSIX separators (``"."`` when equal)."""
    return Path(os.path.relpath(path, start)).as_posix()


@dataclass
class _Group:
    module: str
    distribution: str | None
    installed: Installed | None
    installer: str
    sites: set[tuple[str, int]]
    optional: bool = True
    dynamic: bool = True
    conditional: bool = True  # every site off the default path


class _SpecBuilder:
    """Group found imports into records and derive the conda/pip dependencies."""

    def __init__(
        self, spec_dir: Path, resolver: Resolver, conda: frozenset[str], env_known: bool
    ) -> None:
        self.spec_dir = spec_dir
        self.resolver = resolver
        self.conda = conda
        self.env_known = env_known
        self.groups: dict[tuple[str, str], _Group] = {}
        self.findings: list[Finding] = []

    def records(self, found: Sequence[Found]) -> tuple[ImportRecord, ...]:
        """One record per import name, sites merged, sorted by module name.

        A name that is local next to one entry script is local for all of them: the
        bundled code makes it importable everywhere on the node.
        """
        local = {item.top for item in found if item.category == "local"}
        paths: dict[Path, str] = {}  # relpath is slow, and many imports share a file
        for item in found:
            group = self._group(
                item,
                item.category == "local" or (item.category == "external" and item.top in local),
            )
            if item.file not in paths:
                paths[item.file] = _rel(item.file, self.spec_dir)
            group.sites.add((paths[item.file], item.line))
            group.optional = group.optional and item.optional
            group.dynamic = group.dynamic and item.kind == "dynamic"
            group.conditional = group.conditional and item.conditional
            implied = implied_by(item.dotted) if group.installer != "local" else None
            if implied is not None:
                extra = self._implied_group(*implied)
                extra.sites.add((paths[item.file], item.line))
                extra.optional = extra.optional and item.optional
                extra.dynamic = extra.dynamic and item.kind == "dynamic"
        self._minimal()
        records = [
            ImportRecord(
                module=g.module,
                distribution=g.distribution,
                version=g.installed.version if g.installed else None,
                installer=g.installer,
                optional=g.optional,
                sites=tuple(f"{path}:{line}" for path, line in sorted(g.sites)),
                kind="dynamic" if g.dynamic else "import",
            )
            for g in self.groups.values()
        ]
        records.sort(key=lambda r: (r.module.lower(), r.module, r.installer or ""))
        return tuple(records)

    def _minimal(self) -> None:
        """Minimal environments (docs/analyzer.md, "Optional and conditional"): an
        external import found only off the default path (``conditional``: inside a
        function nothing calls, or a branch of an undecided ``if``) whose distribution
        the user's environment does not have is optional; with no environment known it
        stays required. Either way a finding says so."""
        for (_, kind), group in self.groups.items():
            if kind != "external" or group.optional or not group.conditional:
                continue
            if group.distribution is None or group.installed is not None:
                continue
            path, line = min(group.sites)
            where = "only inside a function nothing calls or a branch that may not run"
            if self.env_known:
                group.optional = True
                message = f"imported {where}, not installed in the environment: optional"
                hint = "pkg create --include-optional installs it"
            else:
                message = f"imported {where}; no environment known, so required"
                hint = "give --python PYTHON (an environment without it makes it optional)"
            self.findings.append(Finding(path, line, group.module, message, hint))

    def _implied_group(self, module: str, distribution: str) -> _Group:
        """The group of a distribution that importing ``module`` needs besides its own
        (``dask.distributed`` needs ``distributed``); its record's module is ``module``."""
        key = (module, "implied")
        if key not in self.groups:
            installed = self.resolver.index.installed(distribution)
            installer = installed.installer if installed else "pip"
            if wants_conda(distribution, module, self.conda):
                installer = "conda"
            name = installed.name if installed else distribution
            self.groups[key] = _Group(module, name, installed, installer, set())
        return self.groups[key]

    def _group(self, item: Found, local: bool) -> _Group:
        if local:
            key = (item.top, "local")
            if key not in self.groups:
                self.groups[key] = _Group(item.top, None, None, "local", set())
            return self.groups[key]
        resolution = self.resolver.resolve(item.dotted, item.category == "portion")
        key = (resolution.module, "external")
        if key not in self.groups:
            installed = resolution.installed
            installer = installed.installer if installed else "pip"
            distribution = resolution.distribution
            if distribution and wants_conda(distribution, resolution.module, self.conda):
                installer = "conda"
            if resolution.conda_only:
                installer = "conda"
            self.groups[key] = _Group(
                resolution.module, resolution.distribution, installed, installer, set()
            )
        return self.groups[key]

    def dependencies(
        self, target: str, options: AnalyzeOptions, env: Environment | None
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``(conda MatchSpecs, pip requirements)`` of the non-optional records; rules in
        :mod:`._requirements`."""
        conda: dict[str, str] = {}
        pip: dict[str, str] = {}
        wanted: list[_Group] = []
        for group in self.groups.values():
            if group.installer == "local" or group.optional or group.distribution is None:
                continue
            wanted.append(group)
            installed = group.installed
            if installed is not None and installed.conda_name is not None:
                name, version = installed.conda_name, installed.conda_version
                conda[name] = conda_matchspec(name, version, options.pin)
            elif group.installer == "conda":
                name = conda_name(group.distribution)
                version = installed.version if installed else None
                conda[name] = conda_matchspec(name, version, options.pin)
            elif installed is not None:
                pip[installed.name.lower()] = pip_requirement(
                    installed.name, installed.version, options.pin
                )
            else:
                pip.setdefault(group.distribution.lower(), group.distribution)
        resolved = {canonicalize_name(g.distribution or "") for g in wanted}
        resolved |= {canonicalize_name(g.module) for g in wanted}
        for extra in sorted(options.conda):
            if canonicalize_name(extra) not in resolved:
                conda.setdefault(conda_name(extra), extra)
        if options.freeze:
            installed_names = [g.installed.name for g in wanted if g.installed is not None]
            python = env.executable if env else None
            for name, version in frozen_dependencies(installed_names, python):
                key = name.lower()
                if key not in pip and conda_name(name) not in conda:
                    pip[key] = f"{name}=={version}"
        deps = [f"python={target}"]
        if pip:
            deps.append("pip")
        deps.extend(conda[k] for k in sorted(conda))
        return tuple(deps), tuple(pip[k] for k in sorted(pip))
