"""Entry point of the ``pkg`` command and of ``python -m pkgtool``.

``pkg run`` is the command that runs thousands of times per job array, so it skips the
typer/rich command line (about 0.1 s of imports) and goes straight to the stdlib-only
runner, which parses its own short command line (``[--cache-dir DIR] ARCHIVE COMMAND...``):
on the warm path ``pkg run`` imports this module, :mod:`pkgtool`, :mod:`pkgtool.runner` and
``fcntl``, nothing else (no ``__future__``, no ``typing``). ``pkg run --help`` and every
other command go through :mod:`pkgtool.cli`.
"""

import sys


def main() -> None:
    """Run ``pkg`` with ``sys.argv``."""
    argv = sys.argv[1:]
    if argv[:1] == ["run"] and argv[1:2] not in (["-h"], ["--help"]):
        from pkgtool.runner import run_argv

        try:
            run_argv(argv[1:])
        except Exception as exc:  # noqa: BLE001 - report() re-raises all but pkgtool's errors
            from pkgtool.runner.__main__ import report

            sys.exit(report(exc, ""))
    from pkgtool.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
