"""The root exception of pkgtool and the exit codes its errors map to.

Exit codes are a contract (DESIGN.md, "Exit codes"):

====  ==============================================================
0     success
1     unexpected internal error
2     usage error (bad option or argument)
3     bad input: unreadable script, invalid spec, unknown key
4     resolution failed: unsatisfiable, package not found, channel or
      index unreachable
5     build failed: install, pip, pre-flight import check, pack
125   ``run``: the runner itself failed (bad archive, lock timeout,
      disk full, incompatible node)
126   ``run``: command found but not executable
127   ``run``: command not found
====  ==============================================================

This module uses only the standard library: the runner imports it on worker nodes (when it
raises an error; no ``__future__``: annotations that Python 3.8 cannot evaluate are quoted).
"""

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_RESOLUTION = 4
EXIT_BUILD = 5
EXIT_RUNNER = 125
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127


class PkgError(Exception):
    """Root of every error pkgtool raises on purpose.

    ``message`` is one line naming the culprit; ``hint`` is one line saying what to try.
    The CLI prints them as ``error: <message>`` and ``hint: <hint>`` and exits with
    :attr:`exit_code`.
    """

    exit_code: int = EXIT_INTERNAL

    def __init__(self, message: str, hint: "str | None" = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(PkgError):
    """A command line that does not make sense (exit 2)."""

    exit_code = EXIT_USAGE


class InputError(PkgError, ValueError):
    """Bad input: a missing or unparsable script, an invalid spec (exit 3)."""

    exit_code = EXIT_INPUT


class SpecError(InputError):
    """A spec that fails validation; ``problems`` lists every problem found (exit 3)."""

    def __init__(self, problems: "list[str]", source: str, hint: "str | None" = None) -> None:
        first = problems[0] if problems else "invalid spec"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{source}: {first}{more}", hint)
        self.problems = problems
        self.source = source


class ResolutionError(PkgError):
    """The requested packages cannot be resolved (exit 4)."""

    exit_code = EXIT_RESOLUTION


class BuildError(PkgError):
    """Installing, verifying or packing the environment failed (exit 5)."""

    exit_code = EXIT_BUILD


class RunnerError(PkgError):
    """The runner could not prepare the environment (exit 125)."""

    exit_code = EXIT_RUNNER


class CommandNotExecutableError(RunnerError):
    """The command exists but cannot be executed (exit 126)."""

    exit_code = EXIT_NOT_EXECUTABLE


class CommandNotFoundError(RunnerError):
    """The command was not found on the activated PATH (exit 127)."""

    exit_code = EXIT_NOT_FOUND
