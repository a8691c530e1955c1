"""``python -m pkgtool.runner [--cache-dir DIR] ARCHIVE COMMAND [ARG...]`` on worker nodes.

The same command line as ``pkg-run.sh``, for nodes that have Python but not pkgtool's other
dependencies. Errors go to stderr as ``pkg-run: error: ...`` and ``pkg-run: hint: ...`` with
exit status 125, 126 or 127; a bad command line also exits 125 (the runner's own failure, as
``env`` does), never 2, which the command itself may return.
"""

from __future__ import annotations

import sys

from pkgtool.errors import PkgError, RunnerError
from pkgtool.runner import RunOptions, run

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (ms on the warm path)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NoReturn

USAGE = "usage: pkg-run [--cache-dir DIR] [--] ARCHIVE [--] COMMAND [ARG...]"


def _parse(argv: Sequence[str]) -> tuple[str | None, str, list[str]]:
    args = list(argv)
    cache_dir: str | None = None
    while args and args[0].startswith("-"):
        option = args.pop(0)
        if option == "--":
            break
        if option == "--cache-dir" and args:
            cache_dir = args.pop(0)
        elif option.startswith("--cache-dir="):
            cache_dir = option.partition("=")[2]
        else:
            raise RunnerError(f"unknown option or missing value: {option}", hint=USAGE)
    if cache_dir == "":
        raise RunnerError("--cache-dir needs a directory", hint=USAGE)
    if len(args) < 2:
        raise RunnerError("missing ARCHIVE or COMMAND", hint=USAGE)
    command = args[1:]
    if command[:1] == ["--"]:  # ARCHIVE -- COMMAND: the "--" is not the command
        command = command[1:]
        if not command:
            raise RunnerError("missing COMMAND after --", hint=USAGE)
    return cache_dir, args[0], command  # str, not Path: pathlib costs ms on the warm path


def main(argv: Sequence[str] | None = None, label: str = "pkg-run: ") -> NoReturn:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run; exits, or becomes the command.

    ``label`` starts each error line (``pkg run`` passes ``""`` to match the other commands).
    """
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print(USAGE)
        sys.exit(0)
    try:
        cache_dir, archive, command = _parse(args)
        run(archive, command, RunOptions(cache_dir=cache_dir))
    except PkgError as exc:
        print(f"{label}error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"{label}hint: {exc.hint}", file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
