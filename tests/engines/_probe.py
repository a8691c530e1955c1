"""Counting the runners' extractions, and the re-extraction switch of the engine tests.

Both runners extract with ``tar -x -i -v -o -f - -C <root>/.work-<key>/<tree>`` (``tree``
for a legacy archive; for the layers of a layered one ``env`` and ``code``, or ``env/tree``
and ``code/tree`` in the sh runner), with the first ``tar`` on PATH. :func:`make_probe`
writes a logging ``tar`` into a directory that the tests put first on the jobs' PATH: each
call appends its arguments to a log, then execs the real tar. :meth:`Probe.extractions`
counts the environment extractions into one cache root, so a test sees every cold path a
job took, also the ones whose tree was thrown away because the environment was already
there (the count of ready environments cannot see those).

The switch ``PKGTOOL_TEST_REEXTRACT=1`` (read here, by the tests, never by pkgtool) gives
the jobs runners patched to skip the warm path and to treat every layer as missing: every
run extracts the whole archive again, then finds the layer installed and drops its copy,
so results, prefixes and ready environments stay right. Every test that claims one
extraction must fail under it (docs/engines.md, "The re-extraction run").
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import NamedTuple

from pkgtool.runner import runner_script

SWITCH = "PKGTOOL_TEST_REEXTRACT"

_PATCHED_PKG = """\
import fcntl, sys
import pkgtool.runner as r
import pkgtool.runner._cold as c
import pkgtool.runner._layered as l
r.ready_prefix = c.ready_prefix = lambda *args, **kwargs: None
_locked = l._lock_ready_layers
def _none_ready(root, layers, timeout, fds):
    ready = _locked(root, layers, timeout, fds)
    for layer in layers:
        if ready[layer.id]:
            fcntl.flock(fds[layer.id], fcntl.LOCK_UN)
    return dict.fromkeys(ready, False)
l._lock_ready_layers = _none_ready
sys.argv = ["pkg", *sys.argv[1:]]
from pkgtool.__main__ import main
main()
"""

_SH_PATCHES = (
    # the warm path never finds the record
    ("_pr_warm() {\n", "_pr_warm() {\n    return 1\n"),
    # a ready layer counts as missing (its lock released as for a missing one)
    ("then _pr_env_ready=1; else flock -u 8; fi", "then flock -u 8; else flock -u 8; fi"),
    ("then _pr_code_ready=1; else flock -u 7; fi", "then flock -u 7; else flock -u 7; fi"),
)


def reextract() -> bool:
    """Whether this session runs against the patched, re-extracting runners."""
    return os.environ.get(SWITCH, "") == "1"


class Probe(NamedTuple):
    """``bin``: a directory to put first on the jobs' PATH (the logging ``tar``; under the
    switch also ``pkg``, running the patched Python runner); ``log``: tar's calls."""

    bin: Path
    log: Path

    def extractions(self, cache_root: Path) -> int:
        """Environment extractions (cold paths that unpacked the environment) into
        ``cache_root``, whether or not their tree was kept."""
        if not self.log.is_file():
            return 0
        count = 0
        for line in self.log.read_text().splitlines():
            args = line.split(" ")
            if args[:2] != ["-x", "-i"] or "-C" not in args[:-1]:
                continue  # not a stream extraction (tar -t, tar -x -O of the index)
            tree = Path(args[args.index("-C") + 1])
            if not tree.is_relative_to(cache_root):
                continue
            work, *rest = tree.relative_to(cache_root).parts
            # Python: .work-<key>/tree or .../env; sh: .work-<key>/tree or .../env/tree
            count += work.startswith(".work-") and rest[:1] in (["tree"], ["env"])
        return count

    def install_runner(self, dest: Path) -> None:
        """Write the sh runner to ``dest`` (the file jobs run as ``sh pkg-run``); under
        the switch, the patched one."""
        text = runner_script().read_text()
        if reextract():
            for old, new in _SH_PATCHES:
                assert text.count(old) == 1, f"the sh runner changed: patch {old!r} is stale"
                text = text.replace(old, new)
        dest.write_text(text)
        dest.chmod(0o755)


def make_probe(directory: Path) -> Probe:
    """Create ``directory`` (world-readable, its log world-writable: jobs may run as
    ``nobody``) with the logging tar, and the patched ``pkg`` under the switch."""
    real_tar = shutil.which("tar")
    assert real_tar is not None, "tar not found"
    directory.mkdir(mode=0o755)
    log = directory / "tar.log"
    log.touch(mode=0o666)
    log.chmod(0o666)
    tar = directory / "tar"
    tar.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >>'{log}'\nexec '{real_tar}' \"$@\"\n")
    tar.chmod(0o755)
    if reextract():
        pkg = directory / "pkg"
        pkg.write_text(f"#!/bin/sh\nexec '{sys.executable}' -c '{_PATCHED_PKG}' \"$@\"\n")
        pkg.chmod(0o755)
    return Probe(directory, log)
