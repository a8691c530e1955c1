"""Air-gapped builds: python from a local interpreter, everything else from the package index.

``pkg create --local-python PATH`` turns the interpreter installation at PATH into a conda
package (see :mod:`pkgtool.builder.channel`), adds a ``pip`` package made from pip's wheel,
and indexes both as a local ``file://`` channel cached under
``<cache>/channels/local-python-<key>/``; the key hashes the interpreter's path, version,
size and mtime, pkgtool's version and the pip version asked for, so a changed interpreter
gets a new channel. A lock's pip version is served by the channel built without a pin when
that channel holds it, so ``create --lock`` after ``lock`` needs no index (offline).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from pkgtool import __version__
from pkgtool.builder import channel
from pkgtool.names import pypi_name


def local_python_channel(interpreter: Path, cache_dir: Path, pip_version: str | None = None) -> str:
    """The ``file://`` URL of a local channel with python from ``interpreter`` and pip.

    ``interpreter`` is a path, or a bare name looked up on PATH (``python3``).

    Built once per interpreter (and ``pip_version``, default: the newest pip on the index)
    and reused from ``cache_dir``. The packages are byte-reproducible: the same interpreter
    build and pip version give the same sha256 on any machine.

    Raises:
        InterpreterError: the interpreter cannot be made relocatable.
        ResolutionError: pip's wheel cannot be downloaded from the package index.
    """
    if os.sep not in str(interpreter) and not interpreter.exists():
        found = shutil.which(str(interpreter))
        interpreter = Path(found) if found else interpreter
    info = channel.inspect_interpreter(interpreter)
    stat = info.executable.stat()
    ident = f"{info.executable}|{info.version}|{stat.st_size}|{stat.st_mtime_ns}|{__version__}"
    candidates = [_channel_dir(cache_dir, ident, pip) for pip in dict.fromkeys((None, pip_version))]
    for built in candidates:  # a lock's pip may be the one the channel got without a pin
        if (built / "noarch" / "repodata.json").exists() and (
            pip_version is None or any((built / "noarch").glob(f"pip-{pip_version}-*.conda"))
        ):
            return built.resolve().as_uri()
    final = candidates[-1]
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=final.parent))
    try:
        wheels = channel.download_wheels(
            [f"pip=={pip_version}" if pip_version else "pip"], work / "wheels", info.version
        )
        channel.build_channel(work / "channel", info.executable, wheels)
        shutil.rmtree(final, ignore_errors=True)
        (work / "channel").rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final.resolve().as_uri()


#: Bumped when the packages' bytes change for the same interpreter (2: modes normalised,
#: tkinter kept when the interpreter has ``_tkinter``).
_RECIPE = 2


def _channel_dir(cache_dir: Path, ident: str, pip_version: str | None) -> Path:
    key = hashlib.sha256(f"{ident}|{_RECIPE}|{pip_version or ''}".encode()).hexdigest()[:16]
    return cache_dir / "channels" / f"local-python-{key}"


_OPS = re.compile(r"(==|>=|<=|!=|~=|>|<|=)")


def conda_to_pip(matchspec: str) -> str:
    """Translate a conda MatchSpec to a PEP 508 requirement for the package index.

    ``numpy`` -> ``numpy``; ``numpy=2.1`` and ``numpy=2.1.*`` -> ``numpy==2.1.*``
    (conda's ``=`` is a prefix match, conda docs "Package match specifications");
    ``numpy>=1.2,<2`` -> ``numpy>=1.2,<2``; ``numpy 1.2.3 py311_0`` -> ``numpy==1.2.3``
    (build strings have no pip equivalent). Channel prefixes are dropped and a few
    renamed packages mapped (``pytorch`` -> ``torch``).
    """
    text = matchspec.split("::", 1)[-1].strip()
    name = re.split(r"[\s=<>!~\[]", text, maxsplit=1)[0]
    pypi = pypi_name(name)
    rest = text[len(name) :].strip()
    if not rest:
        return pypi
    if rest.startswith("=") and not rest.startswith("=="):
        version = rest[1:].split("=")[0].split()[0]
        return f"{pypi}=={version if version.endswith('*') else version + '.*'}"
    if not _OPS.match(rest):
        return f"{pypi}=={rest.split()[0]}"
    return (
        pypi + rest.split(" ", 1)[0]
        if " " in rest and "," not in rest
        else pypi + rest.replace(" ", "")
    )
