"""The archive names no path, user or host of the build machine (issue 17, item 9 /
problem 11): built with ``--local-python`` from a spec whose analysis names the analyst's
virtual environment, unpacked, and every file grepped for the build user's home and name,
the host name, the build cache and project directories, the source interpreter's prefix
and the venv's name. The staging path (``/tmp/pkgtool-build-<key>-_placehold...``, in
``bin/conda-unpack`` and bytecode file names) is a fixed string of the lock, not of the host."""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from pkgtool.builder import channel

pytestmark = pytest.mark.slow

VENV = "analysts-venv-7f3a"


def _is_elf(data: bytes) -> bool:
    return data[:4] == b"\x7fELF"


def test_the_archive_names_nothing_of_the_build_host(tmp_path: Path, host_python: Path) -> None:
    project, cache = tmp_path / "project-dir-e41c", tmp_path / "build-cache-9d2b"
    project.mkdir()
    spec = {
        "format": 1,
        "conda": {"channels": [], "dependencies": ["python"]},
        "analysis": {"environment": f"VIRTUAL_ENV: {VENV} (Python 3)", "entry_points": [],
                     "imports": []},
    }  # fmt: skip
    (project / "deps.json").write_text(json.dumps(spec))
    proc = subprocess.run(
        [sys.executable, "-m", "pkgtool", "create", "--local-python", str(host_python),
         "--cache-dir", str(cache), "deps.json", "env.tar.gz"],
        cwd=project, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    unpacked = tmp_path / "unpacked"
    with tarfile.open(project / "env.tar.gz") as tar:
        tar.extractall(unpacked, filter="tar")
    source_prefix = str(channel.inspect_interpreter(host_python).prefix)
    needles = {
        "the source interpreter's prefix": source_prefix.encode(),
        "the build user's home": os.path.expanduser("~").rstrip("/").encode() + b"/",
        "the build cache": str(cache).encode(),
        "the project directory": str(project).encode(),
        "the analyst's venv": VENV.encode(),
        "the build user's name": f"/{getpass.getuser()}/".encode(),
    }
    host = socket.gethostname()
    # a short host name ("vm") is also a word of ordinary text: looked for as a word, in
    # text files, when it has 4 characters or more
    host_word = re.compile(rb"(?<![\w.-])" + re.escape(host.encode()) + rb"(?![\w-])")
    found: list[str] = []
    files = 0
    for directory, _, names in os.walk(unpacked):
        for name in names:
            path = Path(directory, name)
            if path.is_symlink():
                continue
            data = path.read_bytes()
            files += 1
            rel = path.relative_to(unpacked).as_posix()
            found += [f"{rel}: {what}" for what, needle in needles.items() if needle in data]
            if len(host) >= 4 and not _is_elf(data) and host_word.search(data):
                found.append(f"{rel}: the host name {host!r}")
    assert files > 1000
    assert found == [], "\n".join(found[:20])
    # the interpreter still finds its home, the placeholder replaced where it is unpacked
    python = unpacked / "bin" / "python"
    subprocess.run([str(python), str(unpacked / "bin" / "conda-unpack")], check=True)
    libdir = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert libdir == str(unpacked / "lib")
    version = subprocess.run(  # libpython's strings intact (uv parses sys.version so)
        [str(python), "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert version == channel.inspect_interpreter(host_python).version
