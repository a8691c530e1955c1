"""Select the spec's local code and describe it as a deterministic, content-hashed bundle.

A code section (:class:`pkgtool.spec.CodeSection`) has a root (relative to the spec file's
directory), a mode that picks the candidate files, and gitignore-style ``include`` /
``exclude`` patterns (pathspec's ``GitIgnoreSpec``, relative to the root) that refine them:

- ``auto``: the files ``include`` names (``pkg analyze`` writes the local modules the script
  imports); every pattern must match a file;
- ``git``: the files git tracks under the root, submodules included (``git ls-files
  --recurse-submodules``), as they are in the working tree; ``include``, when given, keeps
  only what it matches;
- ``all``: every file under the root; ``include`` as for ``git``;
- ``none``: nothing.

:data:`DEFAULT_EXCLUDES` and :func:`_excluded_dir` apply in every mode. A symbolic link is
bundled as the file it points to when that stays inside the root. The bundle's paths are
relative to each section's root; the archive's code layer holds them under
``pkgtool-code/`` (see :mod:`pkgtool.builder._layers`), and that directory is put on
``sys.path`` ahead of site-packages, so ``import helpers`` works from any directory.

Errors are :class:`~pkgtool.errors.InputError` (exit 3): a missing root, a ``git`` or
``all`` root outside the project (the git work tree holding the spec file, else the spec
file's directory), a pattern that matches no file, a link out of the root, two roots that
bundle the same path, an empty ``git``/``all`` selection.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
import stat
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec

from pkgtool._files import kind_of
from pkgtool.errors import InputError
from pkgtool.spec import CodeSection, Spec

_HINT = "fix the spec's 'code' section (or --code/--code-root/--include/--exclude): patterns are relative to the code root"  # noqa: E501

DEFAULT_EXCLUDES = (
    ".git/", ".hg/", ".svn/", "__pycache__/", "*.py[cod]",
    ".mypy_cache/", ".pytest_cache/", ".ruff_cache/", ".tox/", ".nox/", ".ipynb_checkpoints/",
    "*.tar.gz", "*.tgz", "*.tar.zst", "*.lock.json",
)  # fmt: skip
"""gitignore-style patterns never bundled, in every mode: version-control data, bytecode,
tool caches, pkgtool's own outputs (archives and locks). Also excluded: directories that
hold a virtual environment (``pyvenv.cfg``), a conda prefix (``conda-meta/``) or a tagged
cache (``CACHEDIR.TAG``, https://bford.info/cachedir/: pkgtool's build cache, pip's, ...),
and self-extracting ``env.sh`` files written by ``pkg create``."""

_DEFAULT_SPEC = pathspec.GitIgnoreSpec.from_lines(DEFAULT_EXCLUDES)
_SELF_EXTRACTING = b"#!/bin/sh\n# pkg-run.sh"

CODE_DIR = "pkgtool-code"
"""The directory the code layer's files are under, in the archive and in a prefix unpacked
with plain ``tar``."""


@dataclass(frozen=True)
class CodeFile:
    """One bundled file: ``path`` inside the bundle (posix, relative to its root), the
    ``source`` it is read from, its ``sha256`` (hex) and ``size`` (bytes), and whether it is
    executable (mode 0755 in the archive, else 0644)."""

    path: str
    source: Path
    sha256: str
    size: int
    executable: bool


@dataclass(frozen=True)
class CodeBundle:
    """The code of one build, files sorted by path."""

    files: tuple[CodeFile, ...] = ()

    @property
    def hash(self) -> str:
        """SHA-256 (hex) of the sorted lines ``<path> <mode> <sha256>``: the code's identity,
        independent of compression and of the build host's paths and times."""
        digest = hashlib.sha256()
        for f in self.files:
            digest.update(f"{f.path} {_mode(f):o} {f.sha256}\n".encode())
        return digest.hexdigest()

    def to_manifest(self) -> dict[str, object]:
        """The code manifest stored in the bundle (``pkgtool-code/.pkgtool-code.json``)."""
        return {
            "format": 1,
            "hash": self.hash,
            "files": [
                {"path": f.path, "sha256": f.sha256, "size": f.size, "mode": f"{_mode(f):o}"}
                for f in self.files
            ],
        }


def _mode(f: CodeFile) -> int:
    return 0o755 if f.executable else 0o644


MANIFEST_NAME = ".pkgtool-code.json"
"""The code manifest's name inside :data:`CODE_DIR`."""


def project_dir(spec_dir: Path) -> Path:
    """The project of a spec file: the git work tree holding ``spec_dir``, else ``spec_dir``."""
    proc = _git(["rev-parse", "--show-toplevel"], spec_dir)
    if proc is not None and proc.returncode == 0 and proc.stdout.strip():
        return Path(proc.stdout.strip()).resolve()
    return spec_dir.resolve()


def collect(sections: Sequence[CodeSection], spec_dir: Path) -> CodeBundle:
    """The bundle of ``sections`` (roots relative to ``spec_dir``).

    Raises:
        InputError: see the module docstring.
    """
    chosen: dict[str, CodeFile] = {}
    for section in sections:
        if section.mode == "none":
            continue
        root = (spec_dir / section.root).resolve()
        for rel in select_files(section, spec_dir):
            source = root / rel
            previous = chosen.get(rel)
            if previous is not None and previous.source != source:
                raise InputError(
                    f"two code roots both provide {rel}: {previous.source} and {source}",
                    hint="rename one of the modules or drop one root from the spec",
                )
            chosen[rel] = _describe(rel, source)
    return CodeBundle(tuple(chosen[rel] for rel in sorted(chosen)))


def select_files(code: CodeSection, spec_dir: Path) -> list[str]:
    """Relative posix paths of the files ``code`` selects under its root, sorted.

    Raises:
        InputError: see the module docstring.
    """
    if code.mode == "none":
        return []
    root = (spec_dir / code.root).resolve()
    if not root.is_dir():
        raise InputError(f"code root {code.root!r} is not a directory ({root})", hint=_HINT)
    if code.mode in ("git", "all"):
        project = project_dir(spec_dir)
        if root != project and project not in root.parents:
            raise InputError(
                f"code root {code.root!r} ({root}) is outside the project {project}",
                hint="put the spec file inside the project, or pick a root inside it",
            )
    candidates = _git_files(root) if code.mode == "git" else list(_walk(root))
    files = sorted(
        rel
        for rel in candidates
        if not _DEFAULT_SPEC.match_file(rel)
        and not (rel.endswith(".sh") and _is_self_extracting(root / rel))
    )
    excluded = _matching("exclude", code.exclude, files, code.root)
    files = [f for f in files if f not in excluded]
    if code.include:
        kept = _matching("include", code.include, files, code.root)
        files = [f for f in files if f in kept]
    elif code.mode == "auto":
        files = []
    elif not files:
        raise InputError(
            f"code mode {code.mode!r} selects no file under {code.root!r} ({root})",
            hint="pick another code root or mode, or use --code none",
        )
    for rel in files:
        _check_inside(root, rel)
    return files


def _matching(which: str, patterns: Sequence[str], files: list[str], root: str) -> set[str]:
    """The ``files`` any of ``patterns`` matches; each pattern must match one.

    Raises:
        InputError: a pattern matches no file (``which``: ``include`` or ``exclude``).
    """
    hits: set[str] = set()
    for pattern in patterns:
        found = set(pathspec.GitIgnoreSpec.from_lines([pattern]).match_files(files))
        if not found:
            raise InputError(
                f"code.{which} pattern {pattern!r} matches no file under {root!r}", hint=_HINT
            )
        hits |= found
    return hits


def _walk(root: Path) -> Iterator[str]:
    """Files under ``root`` (relative posix paths), following links to directories inside
    the root (not into a directory that contains the link: no loops), pruning directories
    the default excludes name."""

    def visit(directory: Path, rel: str, ancestors: frozenset[str]) -> Iterator[str]:
        real = os.path.realpath(directory)
        if real in ancestors:
            return
        ancestors = ancestors | {real}
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            raise InputError(f"cannot read {directory}: {exc.strerror}", hint=_HINT) from None
        for entry in entries:
            path = f"{rel}{entry.name}"
            if entry.is_dir(follow_symlinks=False) or (
                entry.is_symlink() and os.path.isdir(entry.path)
            ):
                if entry.is_symlink():
                    _check_inside(root, path)
                if _DEFAULT_SPEC.match_file(path + "/") or _excluded_dir(Path(entry.path)):
                    continue
                yield from visit(Path(entry.path), path + "/", ancestors)
            elif entry.is_symlink() and not os.path.exists(entry.path):
                raise InputError(
                    f"code file {path} is a broken symbolic link", hint="remove or exclude it"
                )
            else:
                yield path

    return visit(root, "", frozenset())


def _excluded_dir(path: Path) -> bool:
    """A virtual environment, a conda prefix or a tagged cache directory."""
    return (
        (path / "pyvenv.cfg").is_file()
        or (path / "conda-meta").is_dir()
        or (path / "CACHEDIR.TAG").is_file()
    )


def _git_files(root: Path) -> list[str]:
    """Files git tracks under ``root`` (relative to it), present in the working tree."""
    proc = _git(["ls-files", "-z", "--cached", "--recurse-submodules", "--", "."], root)
    if proc is None or proc.returncode != 0:
        why = proc.stderr.strip().splitlines()[0] if proc and proc.stderr.strip() else ""
        raise InputError(
            f"code mode 'git': {root} is not in a git work tree" + (f" ({why})" if why else ""),
            hint="run it in a git repository, or use --code all",
        )
    excluded_dir = functools.cache(_excluded_dir)  # each directory looked at once
    out = []
    for rel in proc.stdout.split("\0"):
        if not rel:
            continue
        path = root / rel
        if path.is_symlink() and path.is_dir():
            _check_inside(root, rel)
            out += [f"{rel}/{sub}" for sub in _walk(path)]
        elif path.is_file() or path.is_symlink():
            parts = Path(rel).parts
            if any(excluded_dir(root.joinpath(*parts[:i])) for i in range(1, len(parts))):
                continue
            out.append(rel)
    return out


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"},
        )  # fmt: skip
    except OSError:
        return None


def _check_inside(root: Path, rel: str) -> None:
    """Refuse a path whose links lead out of ``root``."""
    real = Path(os.path.realpath(root / rel))
    if real != root and root not in real.parents:
        raise InputError(
            f"code file {rel} is a symbolic link out of the code root ({real})",
            hint="copy the file into the project or exclude it",
        )


def _describe(rel: str, source: Path) -> CodeFile:
    digest = hashlib.sha256()
    try:  # O_NONBLOCK: a FIFO opens at once, and is refused below
        with open(os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise InputError(
                    f"code file {rel} is {kind_of(st.st_mode)}, not a regular file",
                    hint="exclude it (--exclude PATTERN)",
                )
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise InputError(f"cannot read code file {rel}: {exc.strerror}", hint=_HINT) from None
    return CodeFile(rel, source, digest.hexdigest(), st.st_size, bool(st.st_mode & stat.S_IXUSR))


def _is_self_extracting(path: Path) -> bool:
    """Whether ``path`` is an ``env.sh`` written by ``pkg create`` (the sh runner's header)."""
    try:  # O_NONBLOCK: never blocks on a FIFO (which then reads as empty)
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as fh:
            return fh.read(len(_SELF_EXTRACTING)) == _SELF_EXTRACTING
    except OSError:
        return False


HOOK_MODULE = "_pkgtool_code"
"""The module (and ``.pth`` file) in the environment's site-packages that puts the code
layer on ``sys.path``."""

_HOOK_SOURCE = '''\
"""Put the code layer of a pkgtool archive on sys.path, ahead of site-packages.

Written by pkgtool; run at start-up from _pkgtool_code.pth (site module). The runners set
PKG_CODE_DIR to the unpacked code layer of the archive they run. Without it (an archive
unpacked with plain tar) <prefix>/pkgtool-code is used when it exists, and PKG_CODE_DIR is
set to it, so a program finds its data files at os.environ["PKG_CODE_DIR"] either way.
"""

import os
import sys


def _add():
    here = os.path.dirname(os.path.abspath(__file__))
    code = os.environ.get("PKG_CODE_DIR")
    if not code:
        # site-packages is <prefix>/lib/pythonX.Y/site-packages
        code = os.path.normpath(os.path.join(here, "..", "..", "..", "pkgtool-code"))
        if not os.path.isdir(code):
            return
        os.environ["PKG_CODE_DIR"] = code
    if code in sys.path:
        return
    at = len(sys.path)
    for i, entry in enumerate(sys.path):
        if os.path.abspath(entry) == here:
            at = i
            break
    sys.path.insert(at, code)


_add()
'''


def write_hook(site_packages: Path, prefix: Path) -> None:
    """Write the code hook into the environment's ``site_packages`` (under ``prefix``):
    ``_pkgtool_code.pth`` imports ``_pkgtool_code``, which inserts ``$PKG_CODE_DIR`` (else
    ``<prefix>/pkgtool-code`` when it exists) into ``sys.path`` before site-packages
    (``.pth`` import lines: Python docs, ``site`` module)."""
    if site_packages.parent.parent.parent != prefix:
        raise InputError(
            f"unexpected site-packages location {site_packages}",
            hint="the environment's python must use <prefix>/lib/pythonX.Y/site-packages",
        )
    (site_packages / f"{HOOK_MODULE}.py").write_text(_HOOK_SOURCE, encoding="utf-8")
    (site_packages / f"{HOOK_MODULE}.pth").write_text(f"import {HOOK_MODULE}\n", encoding="utf-8")


def check_local_imports(spec: Spec, bundle: CodeBundle) -> None:
    """Refuse a build whose analysis names a required local module that the code bundle
    lacks (the pre-flight import check runs without code, since code is its own layer).
    Skipped when the spec bundles no code on purpose (no section, or only ``none``).

    Raises:
        InputError: the first missing module, and how many more.
    """
    if all(section.mode == "none" for section in spec.code):
        return
    imports = spec.analysis.imports if spec.analysis else ()
    present = {f.path.split("/")[0].split(".")[0] for f in bundle.files}
    missing = sorted(
        {i.module.split(".")[0] for i in imports if i.installer == "local" and not i.optional}
        - present
    )
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InputError(
            f"local module {missing[0]!r} that the script imports is not in the code bundle{more}",
            hint="add it with --include or the spec's code.include, or run pkg analyze again",
        )


def unconditional_imports(bundle: CodeBundle) -> tuple[str, ...]:
    """Top-level names of the absolute imports that the bundle's ``.py`` files make outside
    any ``if``/``try``/``while``/``with``/``match`` (a guarded import may be a platform's or
    a fallback), minus the bundle's own modules; sorted. The pre-flight imports the
    standard-library ones among them in the new environment."""
    found: set[str] = set()
    for f in bundle.files:
        if not f.path.endswith(".py"):
            continue
        try:
            tree = ast.parse(f.source.read_bytes(), filename=f.path)
        except (SyntaxError, ValueError, OSError):
            continue  # not this check's business: the script's own problem
        found.update(_unguarded(tree.body))
    own = {f.path.split("/")[0].split(".")[0] for f in bundle.files}
    return tuple(sorted(found - own))


def _unguarded(body: Sequence[ast.stmt]) -> Iterator[str]:
    for node in body:
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For)):
            yield from _unguarded(node.body)  # never into if/try/while/with/match: guards


def from_command_line(
    sections: Sequence[CodeSection],
    spec_dir: Path,
    *,
    mode: str | None = None,
    root: Path | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> tuple[CodeSection, ...]:
    """The code sections of a build: the spec's ``sections`` refined by ``pkg create``'s
    ``--code MODE``, ``--code-root DIR`` (relative to the working directory),
    ``--include``/``--exclude PATTERN``. A new mode drops the spec's ``include`` patterns
    (they named the files of the old mode); patterns given are added to the section's.

    Raises:
        UsageError: an unknown mode; ``--code none`` with other code options; ``--code`` or
            ``--code-root`` with a spec of several code sections.
    """
    from pkgtool.errors import UsageError
    from pkgtool.spec import CODE_MODES

    if mode is None and root is None and not include and not exclude:
        return tuple(sections)
    if mode is not None and mode not in CODE_MODES:
        raise UsageError(
            f"unknown --code mode {mode!r}", hint=f"use one of: {', '.join(CODE_MODES)}"
        )
    if mode == "none":
        if root is not None or include or exclude:
            raise UsageError(
                "--code none bundles no code; --code-root, --include, --exclude make no sense",
                hint="drop them, or pick another --code mode",
            )
        return (CodeSection(mode="none"),)
    if len(sections) > 1:
        if mode is not None or root is not None:
            raise UsageError(
                f"the spec has {len(sections)} code sections; --code and --code-root "
                "change one section",
                hint="edit the spec's code section instead (man pkg-create, CODE)",
            )
        return tuple(
            CodeSection(s.root, (*s.include, *include), (*s.exclude, *exclude), s.mode)
            for s in sections
        )
    base = sections[0] if sections else CodeSection()
    new_mode = mode or base.mode
    kept = base.include if new_mode == base.mode else ()
    new_root = base.root
    if root is not None:
        new_root = os.path.relpath(root.resolve(), spec_dir.resolve())
    return (CodeSection(new_root, (*kept, *include), (*base.exclude, *exclude), new_mode),)
