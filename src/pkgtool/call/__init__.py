"""``pkg call``: run one function inside an archive's environment, with typed inputs and
outputs (issue 24; see docs/call.md).

The work is done on the node by :mod:`pkgtool.call.pkgtool_call`, a stdlib-only package the
builder copies into every environment's site-packages as ``pkgtool_call``
(:func:`place_module`). :func:`call` checks the command line here, then has the runner
prepare the archive and exec ``python3 -m pkgtool_call MODULE:FUNCTION ...`` in it: the same
runner protocol as ``pkg run`` (the exit status, streams and signals are the call's).
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from pkgtool.call.pkgtool_call import CallError, _hints, parse_inputs, split_target
from pkgtool.errors import UsageError

MODULE = "pkgtool_call"
"""The call package's name inside an environment (``python3 -m pkgtool_call``)."""

_SOURCE = Path(__file__).resolve().parent / "pkgtool_call"


@dataclass(frozen=True)
class CallRequest:
    """One ``pkg call``: ``target`` is ``MODULE:FUNCTION``; ``inputs`` the ``NAME=VALUE``
    texts; ``returns`` the ``--returns`` specs; ``out`` the output directory (relative to the
    working directory, where the function runs); ``cache_dir`` the runner's cache root
    (None: the runner's default)."""

    archive: Path
    target: str
    inputs: tuple[str, ...] = ()
    returns: tuple[str, ...] = ()
    out: Path = Path(".")
    cache_dir: Path | None = None

    def argv(self) -> list[str]:
        """The command run in the environment."""
        args = ["python3", "-m", MODULE, self.target]
        for item in self.inputs:
            args += ["--input", item]
        for spec in self.returns:
            args += ["--returns", spec]
        return [*args, "--out", str(self.out)]


def check(request: CallRequest) -> None:
    """What can be checked without the environment: ``MODULE:FUNCTION``, the ``--input``
    items and the ``--returns`` grammar.

    Raises:
        UsageError: the first problem (exit 2).
    """
    try:
        split_target(request.target)
        parse_inputs(list(request.inputs))
    except CallError as exc:
        raise UsageError(exc.message, hint=exc.hint) from None
    try:
        _hints.parse_returns(list(request.returns))
    except _hints.HintError as exc:
        raise UsageError(str(exc), hint="write --returns as 'NAME, NAME: KIND[format=F]'") from None


def call(request: CallRequest) -> NoReturn:
    """Check ``request``, then prepare its archive and exec the call in it (does not return).

    Raises:
        UsageError: see :func:`check`.
        RunnerError, CommandNotFoundError: as :func:`pkgtool.runner.run`.
    """
    check(request)
    from pkgtool.runner import RunOptions, run

    run(request.archive, request.argv(), RunOptions(cache_dir=request.cache_dir))


def _sources() -> list[Path]:
    return sorted(p for p in _SOURCE.glob("*.py"))


def module_hash() -> str:
    """SHA-256 (hex) of the call package's files: part of the environment layer's cache
    key, so an edited call package is never served from a cached layer."""
    digest = hashlib.sha256()
    for path in _sources():
        digest.update(f"{path.name}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()


def place_module(site_packages: Path) -> None:
    """Copy the call package into ``site_packages`` as :data:`MODULE` (its ``.py`` files)."""
    target = site_packages / MODULE
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for path in _sources():
        shutil.copyfile(path, target / path.name)


__all__ = ["MODULE", "CallRequest", "call", "check", "module_hash", "place_module"]
