"""The builder's one door to child processes, and the build log they write to.

Every tool the builder runs (rattler's child, pip, the environment's python) goes through
:func:`run`, which captures its output and appends it to the build's :class:`BuildLog`
(a file under the build cache, named in error hints), and echoes it to a stream when the
user asked for ``--debug``.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO


@dataclass(frozen=True)
class BuildLog:
    """Where tool output goes: ``path`` (appended to; ``None`` keeps nothing) and ``echo``
    (a text stream that also gets it, e.g. stderr under ``--debug``)."""

    path: Path | None = None
    echo: TextIO | None = None
    _started: float = field(default_factory=time.monotonic, compare=False)

    def write(self, title: str, text: str) -> None:
        """Append one section: a ``== title (+seconds)`` line, then ``text``."""
        block = f"== {title} (+{time.monotonic() - self._started:.1f} s)\n{text.rstrip()}\n"
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(block)
        if self.echo is not None:
            self.echo.write(block)
            self.echo.flush()

    def hint(self, text: str) -> str:
        """``text`` plus where the full tool output is (for an error's hint)."""
        return f"{text}; tool output: {self.path}" if self.path else text


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without ``PYTHON*`` variables (they would leak the
    builder's settings into the new environment's python), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(extra or {})
    return env


def run(
    args: Sequence[str | Path],
    log: BuildLog,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``args`` with no stdin, capture stdout and stderr as text, log both, and return
    the completed process (never raises on a non-zero exit: callers judge the result).

    Raises:
        OSError: the program could not be started.
    """
    proc = subprocess.run(
        [str(a) for a in args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else clean_environ(),
        cwd=cwd,
        check=False,
    )
    log.write(
        " ".join(str(a) for a in args)[:300] + f" -> exit {proc.returncode}",
        (proc.stdout or "") + (proc.stderr or ""),
    )
    return proc
