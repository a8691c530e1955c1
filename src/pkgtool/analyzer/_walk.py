"""Follow a script into its local modules and classify every import found on the way.

Starting from the entry scripts, each file is scanned (:mod:`._scan`); every import is
made absolute (PEP 328 for relative ones, against the importing module's
``__package__``) and classified by its top-level name:

- ``mapped``: named by ``--pkg-mapping`` (wins over everything);
- ``local``: a module or package in the entry script's import roots (:mod:`._local`,
  :mod:`._project`); a regular one next to the script shadows the standard library
  except built-in and start-up modules, a namespace directory (PEP 420) only names
  nothing else provides; its files are scanned in turn;
- ``stdlib``: in the target's standard library (:mod:`._stdlib`);
- ``foreign``: in the standard library of another CPython (2.7 to 3.14) and not in the
  target's, with no table entry (``distutils`` -> setuptools has one): never a
  distribution, reported as a :class:`~pkgtool.analyzer.Finding` (``urllib2``,
  ``cPickle`` in Python 2/3 shims; ``tomllib`` under ``--python-version 3.10``);
- ``generated``: ``*_pb2`` / ``*_pb2_grpc`` modules that ``protoc`` writes next to the
  code (gRPC's Python quick start) and that are not there: reported, never emitted;
- ``external``: everything else, to be resolved to a distribution; ``portion`` when its
  top-level name is a local namespace directory that does not hold it.

A local namespace directory (PEP 420) claims only the submodules it holds:
``import sr.comp`` with a local ``sr/`` lacking ``comp`` is not local (the
``sr.comp`` distribution provides another portion of ``sr``). A relative import that
cannot be followed (no parent package, or the module is not there) is reported as a
finding, never dropped silently.

An import is optional if its own context makes it so (:mod:`._conditions`) or if the
file holding it is reached from the entry scripts only through optional imports (an
``ImportError`` inside such a module is caught by the ``try`` that imported it).

A file that does not parse is a :class:`~pkgtool.analyzer.Problem`; its imports are
recovered from its tokens (:mod:`._recover`) and followed like the others. An entry
script that another file imports is bundled too (it is a module then).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from pkgtool.analyzer._conditions import Target
from pkgtool.analyzer._configs import config_refs, config_sites
from pkgtool.analyzer._local import LocalFinder, LocalModule
from pkgtool.analyzer._model import Finding, Problem
from pkgtool.analyzer._notebook import describe_line
from pkgtool.analyzer._recover import python2_evidence, recover_imports
from pkgtool.analyzer._scan import FileScan, ImportSite, ScanError
from pkgtool.analyzer._scanner import Scanner
from pkgtool.analyzer._stdlib import never_shadowed


@dataclass(frozen=True)
class Entry:
    """An entry script: ``file`` absolute, ``display`` as the user gave it.

    ``search_dir`` is its ``sys.path[0]`` (None: the file's directory), ``roots`` the
    further import roots searched after it (:mod:`._project`), ``package`` its
    ``__package__`` when run with ``python -m`` (PEP 366; ``""``: none); ``walked``
    whether it was found in a directory input rather than named.
    """

    file: Path
    display: str
    package: str = ""
    roots: tuple[Path, ...] = ()
    search_dir: Path | None = None
    walked: bool = False  # found by walking a directory input, not named


@dataclass(frozen=True)
class Filter:
    """Which imports count: see :class:`~pkgtool.analyzer.AnalyzeOptions`."""

    toplevel: bool = False
    function: str | None = None

    def keep(self, site: ImportSite, entry: bool) -> bool:
        """True if ``site`` counts, in an entry script (``entry``) or a local module."""
        if not site.in_body:
            return True
        if not (self.toplevel or self.function):
            return True
        if not entry or self.function is None:
            return False
        name = self.function
        return any(f == name or f.rsplit(".", 1)[-1] == name for f in site.functions)


@dataclass(frozen=True)
class Found:
    """One classified import: ``dotted`` absolute name, ``file`` absolute, line 1-based."""

    dotted: str
    category: str
    file: Path
    line: int
    optional: bool
    kind: str
    conditional: bool = False  # off the default path (ImportSite.conditional)

    @property
    def top(self) -> str:
        return self.dotted.split(".")[0]


@dataclass
class WalkResult:
    """Imports found (stdlib ones left out), local module files reached with the import
    root each was found under (``local_roots``: file -> root), problems."""

    found: list[Found] = field(default_factory=list)
    local_files: set[Path] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    local_roots: dict[Path, Path] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class Classifier:
    """Decides the category of a top-level name (see the module docstring).

    ``stdlib``: the target's standard-library names; ``mapped(dotted)``: named by
    ``--pkg-mapping``; ``foreign(top)``: why a standard-library name of another CPython is
    not the target's (None: it is not one, or a table entry maps it to a distribution).
    """

    stdlib: frozenset[str]
    mapped: Callable[[str], bool]
    foreign: Callable[[str], str | None] = lambda top: None


@dataclass(frozen=True)
class _Unit:
    file: Path
    display: str
    module: LocalModule | None  # None for an entry script
    finder: LocalFinder
    display_dir: str  # the entry script's directory as the user named it
    base_dir: Path  # the entry script's directory
    entry_package: str = ""  # an entry script's __package__ (PEP 366)
    named: bool = False  # an entry script named on the command line

    @property
    def package(self) -> str:
        return self.module.package if self.module is not None else self.entry_package

    def child(self, module: LocalModule) -> _Unit:
        """The unit of a local module found from this one (same search directory)."""
        assert module.file is not None
        display = self._display(module.file)
        return _Unit(module.file, display, module, self.finder, self.display_dir, self.base_dir)

    def at(self, file: Path) -> _Unit:
        """This unit's code reading ``file`` (a configuration file it loads)."""
        return replace(self, file=file, display=self._display(file))

    def _display(self, path: Path) -> str:
        """``path`` as the user would name it: relative to the entry script's directory
        as the user named it."""
        file, base = str(path), str(self.base_dir)
        if file.startswith(base) and file[len(base) : len(base) + 1] == os.sep:
            rel = file[len(base) + 1 :]  # relpath's answer for a file below, without its cost
        else:
            rel = os.path.relpath(file, base)
        return os.path.normpath(os.path.join(self.display_dir, rel))


@dataclass
class _FileInfo:
    sites: list[Found] = field(default_factory=list)
    edges: list[tuple[Path, bool, bool]] = field(default_factory=list)  # (file, optional, cond.)


class Walker:
    """One walk over entry scripts; see :func:`walk`."""

    def __init__(
        self,
        version: tuple[int, int],
        flt: Filter,
        classifier: Classifier,
        finder_for: Callable[[Entry], LocalFinder],
        scanner: Scanner | None = None,
    ) -> None:
        self.version = version
        self.filter = flt
        self.classifier = classifier
        self.finder_for = finder_for
        self.result = WalkResult()
        self._info: dict[Path, _FileInfo] = {}
        self._scans: dict[Path, FileScan | None] = {}
        self.scanner = scanner if scanner is not None else Scanner(None)
        self._entry_files: set[Path] = set()  # all queued first, so never queued again
        self._noted: set[Finding] = set()
        self._own_roots: set[tuple[Path, str]] = set()

    def run(self, entries: Sequence[Entry]) -> WalkResult:
        entry_files = self._entry_files = {e.file for e in entries}
        main = Target(self.version, is_main=True)
        self.scanner.prefetch((e.file, e.display, main) for e in entries)  # all at once
        queue: deque[_Unit] = deque(
            _Unit(
                e.file,
                e.display,
                None,
                self.finder_for(e),
                os.path.dirname(e.display),
                e.file.parent,
                e.package,
                not e.walked,
            )
            for e in entries
        )
        while queue:
            unit = queue.popleft()
            if unit.file in self._info:
                continue
            info = self._info[unit.file] = _FileInfo()
            scan = self._scan(unit)
            for site in scan.sites if scan else ():
                if self.filter.keep(site, unit.module is None):
                    self._classify(site, unit, info, queue)
            if scan is not None and any(s.module.split(".")[0] == "hydra" for s in scan.sites):
                self._configs(unit, info, queue)
        required = self._required(entry_files, 1)
        default = self._required(entry_files, 2)
        for file, info in self._info.items():
            for found in info.sites:
                optional = found.optional or file not in required
                conditional = found.conditional or file not in default
                self.result.found.append(_with_context(found, optional, conditional))
        self.scanner.close()
        return self.result

    def _configs(self, unit: _Unit, info: _FileInfo, queue: deque[_Unit]) -> None:
        """Classify the ``_target_`` sites of the configuration files ``unit`` loads
        (:mod:`._configs`) as imports of those files, which ``unit`` requires."""
        try:
            source = self.scanner.read(unit.file)
        except OSError:
            return
        for ref in config_refs(source, unit.file):
            for file, site in config_sites(ref, self.scanner.read, unit.finder.listings.kinds):
                if file not in self._info:
                    self._info[file] = _FileInfo()
                    info.edges.append((file, False, False))
                    root = next((r for r in unit.finder.roots if r in file.parents), None)
                    if root is not None:  # bundled with the code, which reads it
                        self.result.local_roots.setdefault(file, root)
                self._classify(site, unit.at(file), self._info[file], queue)

    def _scan(self, unit: _Unit) -> FileScan | None:
        if unit.file in self._scans:
            return self._scans[unit.file]
        target = Target(self.version, is_main=unit.module is None)
        scan: FileScan | None = None
        try:
            scan = self.scanner.scan(unit.file, unit.display, target)
        except OSError as exc:
            message = f"cannot read: {exc.strerror or exc}"
            self.result.problems.append(Problem(unit.display, None, message, 0, unit.named))
        except ScanError as exc:
            scan = _recover(unit.file, target, self.scanner.read)
            recovered = len(scan.sites) if scan is not None else 0
            message = exc.message + describe_line(unit.file, exc.line)
            problem = Problem(unit.display, exc.line, message, recovered, unit.named)
            self.result.problems.append(problem)
            why = python2_evidence(exc.message)
            if why is not None:
                name = unit.module.name if unit.module is not None else unit.file.stem
                note = f"Python 2 file ({why}): {recovered} imports recovered from its tokens"
                self._note(unit, exc.line, name, note)
        self._scans[unit.file] = scan
        return scan

    def _classify(
        self, site: ImportSite, unit: _Unit, info: _FileInfo, queue: deque[_Unit]
    ) -> None:
        base = _absolute_base(site, unit.package)
        if base is None:
            if site.level > 0:
                written = "." * site.level + site.module
                why = "no parent package" if not unit.package else "beyond the top-level package"
                self._note(unit, site, written, f"relative import cannot be followed ({why})")
            return
        names = [n for n in site.names if n != "*"]
        dotted_names = [f"{base}.{n}" for n in names] if names else [base]
        top = base.split(".")[0]
        category = self._category(site, top, base, names, unit)
        kind = "dynamic" if site.kind == "relative-dynamic" else site.kind
        if site.kind == "relative-dynamic" and category not in ("local", "mapped"):
            message = "relative dynamic import of the code's own package: not found locally"
            self._note(unit, site, base, message)
            return
        if category == "stdlib":
            return
        if category == "foreign":
            self._note(unit, site, base, self.classifier.foreign(top) or "")
            return
        if category == "generated":
            self._note(unit, site, base, "generated module (protoc output), not a distribution")
            return
        if category == "local":
            dotted_names = [base]
            if not self._follow(site, base, unit, info, queue) and site.level > 0:
                written = "." * site.level + site.module
                self._note(unit, site, written, f"relative import of {base}: not found locally")
        for dotted in dotted_names:
            found = Found(dotted, category, unit.file, site.line, site.optional, kind)
            info.sites.append(_with_context(found, site.optional, site.conditional))

    def _note(self, unit: _Unit, site: ImportSite | int | None, module: str, message: str) -> None:
        """Record a finding once per file, line (of ``site``) and module."""
        line = site.line if isinstance(site, ImportSite) else site
        finding = Finding(unit.display, line, module, message)
        if finding not in self._noted:
            self._noted.add(finding)
            self.result.findings.append(finding)

    def _category(
        self, site: ImportSite, top: str, base: str, names: Sequence[str], unit: _Unit
    ) -> str:
        finder, file = unit.finder, unit.file
        if site.level > 0:
            return "local"
        if self.classifier.mapped(base):
            return "mapped"
        local = finder.find_top(top)
        if local is None and "." in base and (root := self._own_root(file, base, finder)):
            finder.add_root(root)
            local = finder.find_top(top)
        if local is not None and local.file is not None and not never_shadowed(top):
            return "local"
        if top in self.classifier.stdlib:
            return "stdlib"
        if local is not None and _namespace_holds(finder, base, names):
            return "local"
        if self.classifier.foreign(top) is not None:
            return "foreign"
        if _generated(top):
            return "generated"
        return "external" if local is None else "portion"

    def _own_root(self, file: Path, base: str, finder: LocalFinder) -> Path | None:
        """:func:`own_root`, asked once per directory and top-level name."""
        key = (file.parent, base.split(".")[0])
        if key in self._own_roots:
            return None
        self._own_roots.add(key)
        return own_root(file, base, finder)

    def _follow(
        self, site: ImportSite, base: str, unit: _Unit, info: _FileInfo, queue: deque[_Unit]
    ) -> bool:
        """Record the local files ``site`` loads and queue them for scanning; False when
        ``base`` itself is not found locally."""
        finder = unit.finder
        chain = finder.find_chain(base)
        found = bool(chain) and chain[-1].name == base
        if found:
            last = chain[-1]
            for name in site.names:
                if name == "*":
                    chain.extend(self._star(last, unit))
                else:
                    child = finder.find_child(last, name)
                    if child is not None:
                        chain.append(child)
        for module in chain:
            if module.file is None:
                continue
            info.edges.append((module.file, site.optional, site.conditional))
            file = module.file
            if file.suffix == ".py" and file not in self._info and file not in self._entry_files:
                queue.append(unit.child(module))  # (a file already walked is skipped)
            self.result.local_files.add(module.file)
            if module.root is not None:
                self.result.local_roots.setdefault(module.file, module.root)
        return found

    def _star(self, package: LocalModule, unit: _Unit) -> list[LocalModule]:
        """Submodules ``from package import *`` loads: those named in a literal __all__."""
        if package.package_dir is None or package.file is None or package.file.suffix != ".py":
            return []
        scan = self._scan(unit.child(package))
        names = scan.all_names if scan is not None and scan.all_names else ()
        children = (unit.finder.find_child(package, n) for n in names)
        return [c for c in children if c is not None]

    def _required(self, entry_files: set[Path], flag: int) -> set[Path]:
        """Files reached from an entry script through imports whose ``flag`` (1:
        optional, 2: conditional) is False only."""
        required = set(entry_files)
        todo = list(entry_files)
        while todo:
            info = self._info.get(todo.pop())
            for edge in info.edges if info else ():
                file = edge[0]
                if not edge[flag] and file not in required:
                    required.add(file)
                    todo.append(file)
        return required


def own_root(file: Path, base: str, finder: LocalFinder) -> Path | None:
    """The import root an absolute import of ``file``'s own dotted path names, or None.

    ``sr/comp/cli/__main__.py`` doing ``from sr.comp.cli.command_line import main``
    where ``sr/`` and ``sr/comp/`` are PEP 420 namespace directories (no
    ``__init__.py``, maybe only ``.pyi`` stubs): the code runs as ``python -m
    sr.comp.cli`` from the directory above ``sr/``, which is then on ``sys.path`` and is
    the import root. Taken when ``base`` walks down the directories above ``file`` (its
    first parts are their names, in order, as far as either goes) and a module with a
    file is found under that directory for ``base`` (``import torch.nn`` in a directory
    named ``torch/`` that holds no ``nn`` makes nothing local).
    """
    parts = base.split(".")
    dirs = file.parent.parts
    for i in range(len(dirs) - 1, 0, -1):
        below = dirs[i:]
        n = min(len(below), len(parts))
        if below[0] != parts[0] or list(below[:n]) != parts[:n]:
            continue
        root = Path(*dirs[:i])
        probe = LocalFinder(root, lambda name: True, listings=finder.listings)
        if any(m.file is not None for m in probe.find_chain(base)):
            return root
    return None


def _namespace_holds(finder: LocalFinder, base: str, names: Sequence[str]) -> bool:
    """True if the local namespace package (PEP 420) at the top of ``base`` holds what the
    import names: ``base`` itself below the top, or (``from ns import x``) one of
    ``names``. The real-world case: ``import sr.comp`` next to a local ``sr/`` holding
    only ``sr/robot/`` (another portion of the ``sr`` namespace); the local directory
    must not swallow the ``sr.comp`` distribution."""
    chain = finder.find_chain(base)
    if not chain or chain[-1].name != base:
        return False
    last = chain[-1]
    if last.file is not None or "." in base:
        return True
    return not names or any(finder.find_child(last, n) is not None for n in names)


def _generated(top: str) -> bool:
    """True for the module names ``protoc --python_out`` / ``grpc_tools.protoc
    --grpc_python_out`` write (``service_pb2``, ``service_pb2_grpc``; gRPC Python docs,
    "Generating gRPC code")."""
    return top.endswith(("_pb2", "_pb2_grpc"))


def _with_context(found: Found, optional: bool, conditional: bool) -> Found:
    if found.optional == optional and found.conditional == conditional:
        return found
    return replace(found, optional=optional, conditional=conditional)


def _recover(file: Path, target: Target, read: Callable[[Path], bytes]) -> FileScan | None:
    """The imports of a file that does not parse, read (with the scanner's ``read``)
    from its tokens (:mod:`._recover`)."""
    try:
        return FileScan(recover_imports(read(file), target))
    except (OSError, ScanError):
        return None


def _absolute_base(site: ImportSite, package: str) -> str | None:
    """The absolute module name ``site`` imports from (PEP 328), None if unresolvable.

    ``package`` is the importing module's ``__package__``. A relative import in an
    entry script run as a file or in a top-level module fails at run time ("attempted
    relative import with no known parent package"): None.
    """
    if site.level == 0:
        return site.module or None
    if not package:
        return None
    parts = package.split(".")
    if site.level - 1 >= len(parts):
        return None
    base = ".".join(parts[: len(parts) - (site.level - 1)])
    return f"{base}.{site.module}" if site.module else base
