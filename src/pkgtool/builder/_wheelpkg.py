"""Turn a wheel (PEP 427) into a conda package.

- A pure wheel (``Root-Is-Purelib: true``) becomes a ``noarch: python`` package: the
  payload under ``site-packages/``, ``*.data/scripts`` under ``python-scripts/``, console
  and GUI entry points in ``info/link.json``; the installer moves site-packages into
  ``lib/pythonX.Y/site-packages`` and writes the entry-point scripts (conda docs,
  "noarch python" and conda-build's ``info/link.json``).
- A binary wheel becomes a package for the subdir of its platform tag, payload in
  ``lib/pythonX.Y/site-packages/``, scripts and generated entry-point scripts in ``bin/``,
  depending on ``python >=X.Y,<X.Y+1.0a0`` and ``__glibc >=<manylinux floor>``.

The conda name is the PEP 503 normalized distribution name; ``depends`` adds the wheel's
unconditional ``Requires-Dist`` (markers evaluated for the target python on Linux, extras
ignored) with PEP 440 specifiers kept when conda's MatchSpec reads them the same way. The
``*.dist-info`` directory is kept with ``INSTALLER`` = ``conda`` (PEP 376, recorded in
``RECORD``) so ``importlib.metadata`` sees the distribution.
"""

from __future__ import annotations

import base64
import calendar
import email.message
import email.parser
import email.policy
import hashlib
import os
import re
import tempfile
import zipfile
from collections.abc import Sequence
from configparser import ConfigParser
from pathlib import Path, PurePosixPath

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from pkgtool.builder._condapkg import (
    PLACEHOLDER,
    PackageMeta,
    content_hash,
    normalize_name,
    paths_entries,
    payload_files,
    subdir_for_machine,
    write_package,
)
from pkgtool.errors import InputError

#: glibc of the legacy manylinux tags (PEP 513, PEP 571, PEP 599).
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_DEFAULT_GLIBC = (2, 17)
_SIMPLE_OPS = frozenset({"==", "!=", ">=", "<=", ">", "<", "~="})

_SCRIPT = """\
#!{placeholder}/bin/python
# -*- coding: utf-8 -*-
import re
import sys
from {module} import {head}
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit({call}())
"""


def wheel_package(wheel: Path, channel_dir: Path, python_version: str) -> Path:
    """Write the conda package for ``wheel`` into ``channel_dir`` and return its path.

    ``python_version`` is the target python (``"3.11"`` or ``"3.11.7"``): it places binary
    payloads in ``lib/python3.11/site-packages`` and evaluates ``Requires-Dist`` markers.
    Pure wheels go to ``<channel_dir>/noarch/``, binary ones to ``<channel_dir>/linux-64/``
    (or the subdir of their machine). Build strings: ``pyh<8 hex>_0`` (noarch) and
    ``py311h<8 hex>_0`` (binary), the hex hashing the packaged files.

    Raises:
        InputError: not a readable wheel, or a binary wheel for another python or for a
            non-glibc Linux (musllinux) or non-Linux platform.
    """
    wheel = Path(wheel)
    try:
        with zipfile.ZipFile(wheel) as zf:
            return _convert(zf, wheel, Path(channel_dir), python_version)
    except (InvalidWheelFilename, zipfile.BadZipFile, OSError, KeyError) as exc:
        raise InputError(
            f"{wheel}: not a readable wheel ({type(exc).__name__}: {exc})",
            hint="delete it and download it again",
        ) from exc


def _convert(zf: zipfile.ZipFile, wheel: Path, channel_dir: Path, python_version: str) -> Path:
    dist, parsed_version, _build, tags = parse_wheel_filename(wheel.name)
    version = str(parsed_version)
    short = ".".join(python_version.split(".")[:2])
    names = zf.namelist()
    dist_info = _dist_info_dir(names, wheel)
    data_dir = dist_info[: -len(".dist-info")] + ".data"
    wheel_meta = _parse_headers(zf.read(f"{dist_info}/WHEEL"))
    metadata = _parse_headers(zf.read(f"{dist_info}/METADATA"))
    pure = wheel_meta.get("Root-Is-Purelib", "").strip().lower() == "true"
    name = normalize_name(dist)
    entry_points = _entry_points(zf, f"{dist_info}/entry_points.txt")
    platform_tags = {t.platform for t in tags}
    interp_tags = {(t.interpreter, t.abi) for t in tags}

    depends = _requires(metadata.get_all("Requires-Dist") or [], python_version)
    if pure:
        subdir = "noarch"
        site = "site-packages"
        scripts = "python-scripts"
        python_dep = _conda_spec("python", metadata.get("Requires-Python", "")) or "python"
        depends.insert(0, python_dep)
    else:
        subdir, glibc = _binary_platform(wheel, platform_tags)
        _check_python(wheel, interp_tags, short)
        site = f"lib/python{short}/site-packages"
        scripts = "bin"
        major, minor = (int(x) for x in short.split("."))
        depends[:0] = [f"python >={short},<{major}.{minor + 1}.0a0", f"__glibc >={glibc}"]

    with tempfile.TemporaryDirectory(prefix="pkgtool-wheel-") as tmp:
        stage = Path(tmp)
        text_prefix: dict[str, str] = {}
        for info in zf.infolist():
            if info.is_dir():
                continue
            rel = _target(info.filename, data_dir, site, scripts, short)
            if rel is None:
                continue
            dest = stage / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            data = zf.read(info)
            if rel.startswith(f"{scripts}/") and data.startswith(b"#!python"):
                data = f"#!{PLACEHOLDER}/bin/python".encode() + data[len(b"#!python") :]
                if data.startswith(b"#!" + PLACEHOLDER.encode() + b"/bin/pythonw"):
                    data = data.replace(b"/bin/pythonw", b"/bin/python", 1)
                text_prefix[rel] = PLACEHOLDER
            dest.write_bytes(data)
            mode = (info.external_attr >> 16) & 0o777
            dest.chmod(0o755 if mode & 0o111 or rel.startswith(f"{scripts}/") else 0o644)
        _write_installer(stage / site / dist_info)
        if not pure:
            for spec in entry_points:
                script_rel = f"bin/{spec.split('=')[0].strip()}"
                _write_script(stage / script_rel, spec)
                text_prefix[script_rel] = PLACEHOLDER
        files = payload_files(stage)
        entries = paths_entries(stage, files, text_prefix)
        digest = content_hash(entries, name, version, *depends)
        meta = PackageMeta(
            name=name,
            version=version,
            build=f"pyh{digest}_0" if pure else f"py{short.replace('.', '')}h{digest}_0",
            subdir=subdir,
            depends=tuple(depends),
            timestamp=_timestamp(zf, f"{dist_info}/METADATA"),
            noarch="python" if pure else None,
            entry_points=tuple(entry_points) if pure else (),
            license=metadata.get("License-Expression") or _short(metadata.get("License")),
            summary=metadata.get("Summary"),
        )
        return write_package(stage, meta, entries, channel_dir / subdir).resolve()


def _dist_info_dir(names: Sequence[str], wheel: Path) -> str:
    found = sorted({n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")})
    if len(found) != 1 or f"{found[0]}/METADATA" not in names:
        raise InputError(f"{wheel}: expected one *.dist-info directory with METADATA")
    return found[0]


def _parse_headers(raw: bytes) -> email.message.Message:
    parser = email.parser.BytesParser(policy=email.policy.compat32)
    return parser.parsebytes(raw, headersonly=True)


def _short(text: str | None) -> str | None:
    if not text:
        return None
    line = text.strip().splitlines()[0]
    return line if len(line) <= 80 else None


def _target(member: str, data_dir: str, site: str, scripts: str, short: str) -> str | None:
    """Where a wheel member goes in the package (PEP 427 "Installing a wheel"), or None."""
    path = PurePosixPath(member)
    if path.is_absolute() or ".." in path.parts:
        return None
    if path.parts[0] != data_dir:
        return f"{site}/{member}"
    if len(path.parts) < 3:
        return None
    kind, rest = path.parts[1], PurePosixPath(*path.parts[2:]).as_posix()
    if kind in ("purelib", "platlib"):
        return f"{site}/{rest}"
    if kind == "scripts":
        return f"{scripts}/{rest}"
    if kind == "headers":
        return f"include/python{short}/{data_dir[: -len('.data')]}/{rest}"
    if kind == "data":
        return rest
    return None


def _entry_points(zf: zipfile.ZipFile, member: str) -> list[str]:
    """``console_scripts`` and ``gui_scripts`` as ``"name = module:func"`` (extras dropped)."""
    try:
        text = zf.read(member).decode("utf-8")
    except KeyError:
        return []
    parser = ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep names' case
    parser.read_string(text)
    found: list[str] = []
    for section in ("console_scripts", "gui_scripts"):
        if parser.has_section(section):
            for key, value in parser.items(section):
                target = re.sub(r"\s*\[.*\]\s*$", "", value).strip()
                if ":" in target:
                    found.append(f"{key.strip()} = {target}")
    return sorted(found)


def _write_script(path: Path, spec: str) -> None:
    """A console script like the ones pip and conda write for ``"name = module:attr.attr"``."""
    module, attrs = spec.split("=", 1)[1].strip().split(":", 1)
    head = attrs.split(".")[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        _SCRIPT.format(placeholder=PLACEHOLDER, module=module, head=head, call=attrs),
        encoding="utf-8",
    )
    path.chmod(0o755)


def _write_installer(dist_info: Path) -> None:
    """Set ``INSTALLER`` to ``conda`` and list it in ``RECORD`` (PEP 376)."""
    content = b"conda\n"
    (dist_info / "INSTALLER").write_bytes(content)
    record = dist_info / "RECORD"
    if not record.is_file():
        return
    rel = f"{dist_info.name}/INSTALLER"
    lines = [
        line
        for line in record.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith(f"{rel},")
    ]
    digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
    lines.append(f"{rel},sha256={digest},{len(content)}")
    record.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _timestamp(zf: zipfile.ZipFile, member: str) -> int:
    """The wheel's METADATA date (read as UTC) in ms: deterministic, unlike the build time."""
    date = zf.getinfo(member).date_time
    return calendar.timegm((*date, 0, 0, 0)) * 1000


def _binary_platform(wheel: Path, platform_tags: set[str]) -> tuple[str, str]:
    """(conda subdir, glibc floor ``"2.17"``) from manylinux/linux platform tags."""
    floors: list[tuple[int, int]] = []
    subdirs: set[str] = set()
    for tag in platform_tags:
        match = re.fullmatch(r"manylinux_(\d+)_(\d+)_(\w+)", tag)
        legacy = re.fullmatch(r"(manylinux1|manylinux2010|manylinux2014)_(\w+)", tag)
        plain = re.fullmatch(r"linux_(\w+)", tag)
        if match:
            floors.append((int(match.group(1)), int(match.group(2))))
            machine = match.group(3)
        elif legacy:
            floors.append(_LEGACY_MANYLINUX[legacy.group(1)])
            machine = legacy.group(2)
        elif plain:
            machine = plain.group(1)
        else:
            continue
        subdir = subdir_for_machine(machine)
        if subdir:
            subdirs.add(subdir)
    if len(subdirs) != 1:
        raise InputError(
            f"{wheel.name}: not a wheel for one glibc Linux platform "
            f"(tags: {', '.join(sorted(platform_tags))})",
            hint="download wheels for manylinux, e.g. pip download --only-binary=:all:",
        )
    floor = min(floors) if floors else _DEFAULT_GLIBC
    return subdirs.pop(), f"{floor[0]}.{floor[1]}"


def _check_python(wheel: Path, interp_tags: set[tuple[str, str]], short: str) -> None:
    """Refuse a binary wheel that the target CPython cannot import (PEP 425 tags)."""
    major, minor = (int(x) for x in short.split("."))
    target = f"cp{major}{minor}"
    for interp, abi in interp_tags:
        if interp in (target, f"py{major}", f"py{major}{minor}") and abi in (target, "none"):
            return
        m = re.fullmatch(r"cp(\d)(\d+)", interp)
        if m and abi == "abi3" and (int(m.group(1)), int(m.group(2))) <= (major, minor):
            return
    raise InputError(
        f"{wheel.name}: a binary wheel not for CPython {short}",
        hint=f"download wheels with --python-version {short}",
    )


def _requires(requires_dist: Sequence[str], python_version: str) -> list[str]:
    """Unconditional ``Requires-Dist`` for CPython ``python_version`` on Linux, as MatchSpecs.

    Markers are evaluated (PEP 508) for that python on this machine's architecture, with
    ``extra`` empty so requirements of extras drop out.
    """
    short = ".".join(python_version.split(".")[:2])
    full = python_version if python_version.count(".") >= 2 else f"{short}.0"
    env = {
        "python_version": short,
        "python_full_version": full,
        "implementation_name": "cpython",
        "implementation_version": full,
        "platform_python_implementation": "CPython",
        "platform_system": "Linux",
        "sys_platform": "linux",
        "os_name": "posix",
        "platform_machine": os.uname().machine,
        "extra": "",
    }
    found: dict[str, str] = {}
    for text in requires_dist:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if req.marker is not None and not _evaluate(req.marker, env):
            continue
        name = normalize_name(req.name)
        found[name] = _conda_spec(name, str(req.specifier)) or name
    return [found[n] for n in sorted(found)]


def _evaluate(marker: Marker, env: dict[str, str]) -> bool:
    try:
        return bool(marker.evaluate(env))
    except Exception:  # noqa: BLE001 - an unknown marker variable: treat it as not applying
        return False


def _conda_spec(name: str, specifier: str) -> str | None:
    """``"name >=1.0,<2"`` from a PEP 440 specifier set, or None when conda reads it differently.

    Operators ``==`` (with ``.*``), ``!=``, ``>=``, ``<=``, ``>``, ``<`` and ``~=`` mean the
    same in conda MatchSpecs; ``===``, local versions (``+``) and empty sets do not convert.
    """
    try:
        specs = SpecifierSet(specifier)
    except ValueError:
        return None
    parts = sorted(str(s) for s in specs)
    if not parts or any(s.operator not in _SIMPLE_OPS or "+" in s.version for s in specs):
        return None
    return f"{name} {','.join(parts)}"
