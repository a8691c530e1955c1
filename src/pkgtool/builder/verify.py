"""Pre-flight: check that the spec's imports import inside the new environment.

The check runs the environment's own python in isolated mode (``-I``: no user site, no
PYTHON* variables, no current directory on sys.path) so only what the archive will carry
counts. Each module is imported in the same child; failures are collected, not raised
one at a time.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from pkgtool.errors import BuildError
from pkgtool.spec import ImportRecord

_PROBE = r"""
import importlib, json, sys
failed = {}
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except BaseException as exc:
        failed[name] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
print(json.dumps(failed))
"""


def modules_to_check(imports: Sequence[ImportRecord], include_optional: bool = False) -> list[str]:
    """The import names the pre-flight must verify: required ones (and optional on request)."""
    names = {r.module for r in imports if include_optional or not r.optional}
    return sorted(names)


def stdlib_to_check(
    code_imports: Sequence[str], python_version: str, checked: Sequence[str]
) -> list[str]:
    """The standard-library modules among the code's unconditional imports
    (:func:`pkgtool.builder.code.unconditional_imports`) for Python ``python_version``
    (``"3.11.7"``), not already in ``checked``: the pre-flight imports them too, so a
    standard module the environment lacks (``tkinter`` from an interpreter without Tk) is
    a build error, not a job failing on the node."""
    from pkgtool.analyzer._stdlib import stdlib_modules

    major, minor = (int(x) for x in python_version.split(".")[:2])
    stdlib = stdlib_modules((major, minor)) - {"__main__"}
    return sorted(set(code_imports) & stdlib - set(checked))


def preflight(python: Path, modules: Sequence[str], imports: Sequence[ImportRecord]) -> list[str]:
    """Import each of ``modules`` with ``python``; return the sorted list that imported.

    Raises:
        BuildError: any module failed; the message names the first module, its
            distribution (from ``imports``) and the error, and counts the others.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.run(
        [str(python), "-I", "-c", _PROBE, json.dumps(list(modules))],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        failed: dict[str, str] = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise BuildError(
            f"the new environment's python does not run: {proc.stderr.strip()[-300:]}",
            hint="the interpreter may need libraries this machine lacks",
        ) from None
    if failed:
        name = sorted(failed)[0]
        dist = next((r.distribution for r in imports if r.module == name), None)
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise BuildError(
            f"pre-flight: import {name}"
            + (f" (from {dist})" if dist else "")
            + f" fails in the new environment: {failed[name]}{more}",
            hint="add the missing distribution to the spec, fix it with "
            "`pkg analyze --pkg-mapping IMPORT=NAME`, or mark the import optional",
        )
    return sorted(modules)
