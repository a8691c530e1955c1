"""Activation of a ready prefix and the final ``exec`` of the command.

The variables: ``<prefix>/bin`` first on ``PATH``, ``CONDA_PREFIX`` and ``CONDA_DEFAULT_ENV``
set to the prefix, ``PYTHONPATH`` and ``PYTHONHOME`` removed, ``PKG_CODE_DIR`` set to the code
layer's directory when the archive has one, removed otherwise. Then, when
``<prefix>/etc/conda/activate.d/*.sh`` scripts exist (the builder writes the spec's ``env``
into ``pkgtool-env.sh`` there), the command is exec'd through ``/bin/sh``, which sources them
in code-point order of their names and then ``exec``s the command: no process is left
between the caller and the command either way.
"""

from __future__ import annotations

import os
import sys

from pkgtool.errors import CommandNotExecutableError, CommandNotFoundError, RunnerError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (ms on the warm path)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import NoReturn

    from _typeshed import StrPath

ACTIVATE_D = "etc/conda/activate.d"
"""Directory of activation scripts inside a prefix; only its ``*.sh`` files are sourced."""

SHELL = "/bin/sh"

# Sourced inside a function so that a script's `shift` or `set --` cannot touch the command,
# which is kept in "$@" after the script paths. The command lookup mirrors pkg-run.sh.
_WRAPPER = r"""
_pr_source() { . "$1"; }
_pr_n=$1
shift
while [ "$_pr_n" -gt 0 ]; do
    _pr_source "$1"
    shift
    _pr_n=$((_pr_n - 1))
done
unset _pr_n
_pr_status() {
    case $1 in
    '') return 127 ;;
    */*)
        if [ -d "$1" ]; then return 126; fi
        if [ -x "$1" ]; then return 0; fi
        if [ -e "$1" ]; then return 126; fi
        return 127 ;;
    esac
    _pr_found=127
    _pr_ifs=$IFS
    IFS=:
    set -f
    for _pr_dir in $PATH; do
        _pr_file=${_pr_dir:-.}/$1
        if [ -f "$_pr_file" ] && [ -x "$_pr_file" ]; then _pr_found=0; break; fi
        if [ -e "$_pr_file" ] && [ ! -d "$_pr_file" ]; then _pr_found=126; fi
    done
    set +f
    IFS=$_pr_ifs
    return "$_pr_found"
}
_pr_status "$1"
case $? in
127)
    printf 'pkg-run: error: command not found: %s\n' "$1" >&2
    printf 'pkg-run: hint: commands are looked up on PATH with %s/bin first; check the name\n' \
        "$CONDA_PREFIX" >&2
    exit 127 ;;
126)
    printf 'pkg-run: error: command not executable: %s\n' "$1" >&2
    printf 'pkg-run: hint: check its permissions (chmod +x) and its #! line\n' >&2
    exit 126 ;;
esac
exec "$@"
"""

_NOT_EXECUTABLE_HINT = "check its permissions (chmod +x) and its #! line"


def _not_found_hint(prefix: StrPath) -> str:
    return f"commands are looked up on PATH with {prefix}/bin first; check the name"


def activated_environ(
    prefix: StrPath, base: Mapping[str, str], code_dir: StrPath | None = None
) -> dict[str, str]:
    """A copy of ``base`` with the prefix activated (see the module docstring), and
    ``PKG_CODE_DIR`` set to ``code_dir`` (absolute: the code layer's ``pkgtool-code``
    directory) or removed when it is ``None``.

    ``prefix`` should be absolute. ``activate.d`` scripts are not applied here: they run in
    the shell that execs the command.
    """
    env = dict(base)
    bin_dir = os.path.join(prefix, "bin")
    env["PATH"] = f"{bin_dir}:{env['PATH']}" if env.get("PATH") else bin_dir
    env["CONDA_PREFIX"] = os.fspath(prefix)
    env["CONDA_DEFAULT_ENV"] = os.fspath(prefix)
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    if code_dir is None:
        env.pop("PKG_CODE_DIR", None)
    else:
        env["PKG_CODE_DIR"] = os.fspath(code_dir)
    return env


def activation_scripts(prefix: StrPath) -> list[str]:
    """``<prefix>/etc/conda/activate.d/*.sh`` regular files, sorted by name (code points).

    Names starting with ``.`` are skipped, as a shell glob skips them.
    """
    directory = os.path.join(prefix, ACTIVATE_D)
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    scripts = [name for name in names if name.endswith(".sh") and not name.startswith(".")]
    paths = [os.path.join(directory, name) for name in scripts]
    return [path for path in paths if os.path.isfile(path)]


def exec_command(
    prefix: StrPath, command: Sequence[str], code_dir: StrPath | None = None
) -> NoReturn:
    """Replace this process with ``command`` in the activated prefix (``PKG_CODE_DIR`` set
    to ``code_dir``, or removed when it is ``None``).

    Returns only by raising: :class:`CommandNotFoundError` (127) or
    :class:`CommandNotExecutableError` (126) when ``execve`` fails, :class:`RunnerError` (125)
    for an empty command.
    """
    if not command:
        raise RunnerError("no command given", hint="pkg run ARCHIVE COMMAND [ARG...]")
    env = activated_environ(prefix, os.environ, code_dir)
    scripts = activation_scripts(prefix)
    argv = list(command)
    if scripts:
        argv = [SHELL, "-c", _WRAPPER, "pkg-run", str(len(scripts)), *map(str, scripts), *argv]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        _execvpe(argv, env)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise _not_found(argv[0], env, prefix) from exc
    except OSError as exc:
        raise CommandNotExecutableError(
            f"command not executable: {argv[0]} ({exc.strerror})", hint=_NOT_EXECUTABLE_HINT
        ) from exc


def _execvpe(argv: list[str], env: dict[str, str]) -> NoReturn:
    """``os.execvpe(argv[0], argv, env)``, the same search and errors, without the
    ``import warnings`` of :func:`os.get_exec_path` (about 0.5 ms on the warm path).

    A name with a ``/`` is run as it is; otherwise each ``PATH`` entry in turn (an empty
    entry is the working directory); the first error other than "not found" is raised, else
    the last one (CPython's ``os._execvpe``).
    """
    name = argv[0]
    if "/" in name:
        os.execve(name, argv, env)
    first_other: OSError | None = None
    last: OSError = FileNotFoundError(2, "No such file or directory", name)
    for directory in env.get("PATH", os.defpath).split(os.pathsep):
        try:
            os.execve(os.path.join(directory, name), argv, env)
        except (FileNotFoundError, NotADirectoryError) as exc:
            last = exc
        except OSError as exc:
            last = exc
            first_other = first_other or exc
    raise first_other or last


def _not_found(name: str, env: Mapping[str, str], prefix: StrPath) -> CommandNotFoundError:
    import shutil  # only when exec failed: keeps the warm path's imports short

    found = shutil.which(name, path=env.get("PATH"))
    if found:  # execve's ENOENT came from the #! interpreter, not from the command itself
        return CommandNotFoundError(
            f"cannot run {found}: its #! interpreter was not found", hint=_NOT_EXECUTABLE_HINT
        )
    return CommandNotFoundError(f"command not found: {name}", hint=_not_found_hint(prefix))
