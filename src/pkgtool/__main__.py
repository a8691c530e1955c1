"""Entry point of the ``pkg`` command and of ``python -m pkgtool``.

``pkg run`` is the command that runs thousands of times per job array, so it skips the
typer/rich command line (about 0.1 s of imports) and goes straight to the stdlib-only
runner, which parses its own short command line (``[--cache-dir DIR] ARCHIVE COMMAND...``).
``pkg run --help`` and every other command go through :mod:`pkgtool.cli`.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run ``pkg`` with ``sys.argv``."""
    argv = sys.argv[1:]
    if argv[:1] == ["run"] and argv[1:2] not in (["-h"], ["--help"]):
        from pkgtool.runner.__main__ import main as run_main

        run_main(argv[1:], label="")
    from pkgtool.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
