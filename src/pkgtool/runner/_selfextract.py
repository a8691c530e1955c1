"""Self-extracting archives: ``pkg-run.sh`` with the archive's bytes appended.

The script's line ``_pr_payload=`` becomes ``_pr_payload=<offset>`` padded with blanks to a
fixed width, ``<offset>`` being the script's length in bytes, where the archive starts. The
script never reads past its own end: every path through it ends in ``exec`` or ``exit``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

_LINE = b"\n_pr_payload=\n"
_WIDTH = 20  # digits and padding blanks after "_pr_payload="


def script_with_offset(script: bytes) -> bytes:
    """``script`` with its payload line filled in for an archive appended right after it."""
    if script.count(_LINE) != 1:
        raise ValueError("the runner script has no single '_pr_payload=' line")
    length = len(script) + _WIDTH
    field = str(length).ljust(_WIDTH).encode()
    return script.replace(_LINE, b"\n_pr_payload=" + field + b"\n")


def write(runner: Path, archive: Path, dest: Path) -> None:
    """Write ``dest`` = runner script (payload line filled in) + ``archive``'s bytes, 0755."""
    header = script_with_offset(runner.read_bytes())
    directory = dest.parent if str(dest.parent) else Path(".")
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out, open(archive, "rb") as data:
            out.write(header)
            shutil.copyfileobj(data, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(name, 0o755)
        os.replace(name, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
