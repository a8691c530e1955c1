"""``python -m pkgtool.runner [--cache-dir DIR] ARCHIVE COMMAND [ARG...]`` on worker nodes.

The same command line as ``pkg-run.sh``, for nodes that have Python but not pkgtool's other
dependencies. Errors go to stderr as ``pkg-run: error: ...`` and ``pkg-run: hint: ...`` with
exit status 125, 126 or 127; a bad command line also exits 125 (the runner's own failure, as
``env`` does), never 2, which the command itself may return.

The work is :func:`pkgtool.runner.run_argv`'s; this module only reports errors (no
``__future__``, no ``typing``: it is on the warm path and runs on Python 3.8).
"""

import sys

from pkgtool.runner import USAGE, run_argv

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (ms on the warm path)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NoReturn


def main(argv: "Sequence[str] | None" = None, label: str = "pkg-run: ") -> "NoReturn":
    """Parse ``argv`` (default ``sys.argv[1:]``) and run; exits, or becomes the command.

    ``label`` starts each error line (``pkg run`` passes ``""`` to match the other commands).
    """
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print(USAGE)
        sys.exit(0)
    try:
        run_argv(args)
    except Exception as exc:  # noqa: BLE001 - report() re-raises all but pkgtool's errors
        sys.exit(report(exc, label))


def report(exc: Exception, label: str) -> int:
    """Print ``exc`` (a :class:`~pkgtool.errors.PkgError`) to stderr as ``<label>error:`` and
    ``<label>hint:`` lines and return its exit code; re-raise any other exception.

    :mod:`pkgtool.errors` is imported here, once an error is being reported, not before.
    """
    from pkgtool.errors import PkgError

    if not isinstance(exc, PkgError):
        raise exc
    print(f"{label}error: {exc.message}", file=sys.stderr)
    if exc.hint:
        print(f"{label}hint: {exc.hint}", file=sys.stderr)
    return exc.exit_code


if __name__ == "__main__":
    main()
