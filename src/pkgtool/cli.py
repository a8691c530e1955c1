"""The ``pkg`` command line: the only module that parses arguments, prints and exits.

Each command parses its arguments, calls one library function, and renders the result:
data on stdout, messages for people on stderr (rich). Errors derived from
:class:`pkgtool.errors.PkgError` become ``error: ...`` / ``hint: ...`` on stderr and the
error's exit code (DESIGN.md, "Exit codes"); tracebacks only with ``--debug``.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

# Typer vendors click as ``typer._click`` (it no longer depends on click); the help layout
# and the usage-error path below need its formatter and exception types.
from typer import _click
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from pkgtool import __version__
from pkgtool._files import check_output, write_failed
from pkgtool.errors import EXIT_INTERNAL, EXIT_USAGE, InputError, PkgError, UsageError


class _Command(TyperCommand):
    """Plain help in the shape people know from git and pip: ``Usage: pkg create [OPTIONS]
    SPEC OUT``, paragraphs reflowed to the terminal, then the arguments and the options
    with their metavars (never a ``<bool>`` type) and ``[default: ...]``."""

    def collect_usage_pieces(self, ctx: _click.Context) -> list[str]:
        return _usage_pieces(self, ctx)

    def format_options(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        _format_params(self, ctx, formatter)


class _Group(TyperGroup):
    """The ``pkg`` group, with the same help layout as :class:`_Command`."""

    def collect_usage_pieces(self, ctx: _click.Context) -> list[str]:
        return [*_usage_pieces(self, ctx), "COMMAND [ARGS]..."]

    def format_options(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        _format_params(self, ctx, formatter)
        self.format_commands(ctx, formatter)


def _usage_pieces(command: _click.Command, ctx: _click.Context) -> list[str]:
    pieces = ["[OPTIONS]"]
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument):
            name = param.metavar or (param.name or "").upper()
            name += "..." if param.nargs != 1 else ""
            pieces.append(name if param.required else f"[{name}]")
    return pieces


def _format_params(
    command: _click.Command, ctx: _click.Context, formatter: _click.HelpFormatter
) -> None:
    arguments: list[tuple[str, str]] = []
    options: list[tuple[str, str]] = []
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument) and not param.hidden:
            name = param.metavar or (param.name or "").upper()
            arguments.append((name + ("..." if param.nargs != 1 else ""), param.help or ""))
        elif isinstance(param, TyperOption) and not param.hidden:
            names = ", ".join(sorted(param.opts, key=len))
            if not param.is_flag and not param.count:
                names += f" {param.metavar or 'VALUE'}"
            options.append((names, (param.help or "") + _default_text(param)))
    if arguments:
        with formatter.section("Arguments"):
            formatter.write_dl(arguments)
    if options:
        with formatter.section("Options"):
            formatter.write_dl(options)


def _default_text(param: TyperOption) -> str:
    if isinstance(param.show_default, str):
        return f"  [default: {param.show_default}]"
    default = param.default
    if param.is_flag or default is None or default == () or default == []:
        return ""
    return f"  [default: {default}]"


app = typer.Typer(
    name="pkg",
    cls=_Group,
    help="Ship a Python script's environment to batch-cluster worker nodes.\n\n"
    "\b\n"
    "  pkg analyze analysis.py deps.json       # what does the script need?\n"
    "  pkg create deps.json env.tar.gz         # build it once, relocatable\n"
    "  pkg run env.tar.gz python3 analysis.py  # on any node, as often as needed",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def _console() -> Console:
    """stderr for people; with ``NO_COLOR`` set (https://no-color.org) no style codes at all,
    not even bold."""
    plain = bool(os.environ.get("NO_COLOR"))
    return Console(
        stderr=True, highlight=False, soft_wrap=True, color_system=None if plain else "auto"
    )


_err = _console()
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        print(f"pkgtool {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show tracebacks and tool output on errors (give it before the command: "
            "pkg --debug create ...).",
        ),
    ] = False,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    _state["debug"] = debug


@contextmanager
def _errors() -> Iterator[None]:
    """Turn pkgtool errors into ``error:``/``hint:`` lines and their exit codes; with
    ``--debug`` the traceback comes first (never for usage errors, which look the same
    with and without ``--debug``)."""
    try:
        yield
    except PkgError as exc:
        hint = exc.hint
        if _state["debug"]:
            if exc.exit_code != EXIT_USAGE:
                _err.print_exception()
            hint = _without_debug(hint)
        _fail(exc.message, hint, exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", None, 130)
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence, reported as exit 1
        if _state["debug"]:
            _err.print_exception()
        _fail(
            f"internal error: {type(exc).__name__}: {exc}",
            "report the traceback above"
            if _state["debug"]
            else "run again with --debug and report the traceback",
            EXIT_INTERNAL,
        )


def _without_debug(hint: str | None) -> str | None:
    """``hint`` without its advice to run again with ``--debug`` (it is on already): the
    clauses (``;``-separated) naming ``--debug`` go; if none is left, the traceback above
    is the hint."""
    if hint is None or "--debug" not in hint:
        return hint
    kept = [part.strip() for part in hint.split(";") if "--debug" not in part]
    return "; ".join(p for p in kept if p) or "the traceback above shows where it failed"


def _fail(message: str, hint: str | None, code: int) -> NoReturn:
    _err.print(f"[bold red]error:[/] {_one_line(message)}", markup=True)
    if hint:
        _err.print(f"[bold]hint:[/] {_one_line(hint)}", markup=True)
    raise typer.Exit(code)


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("[", r"\[")


def _default_build_cache() -> Path:
    explicit = os.environ.get("PKG_BUILD_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pkgtool"


# --------------------------------------------------------------------------- analyze


@app.command(cls=_Command, short_help="Find what scripts import; write a spec.")
def analyze(
    scripts: Annotated[
        list[Path],
        typer.Argument(
            metavar="SCRIPT",
            help="Python script, Jupyter notebook or directory to analyse (entry points).",
        ),
    ],
    out: Annotated[
        str,
        typer.Argument(metavar="OUT", help="Where to write the spec (JSON); - for stdout."),
    ],
    toplevel: Annotated[
        bool,
        typer.Option("--toplevel", help="Only imports at the top level of the scripts."),
    ] = False,
    function: Annotated[
        str | None,
        typer.Option(
            "--function", metavar="NAME", help="Only top-level imports and those inside NAME."
        ),
    ] = None,
    pkg_mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--pkg-mapping",
            metavar="IMPORT=NAME",
            help="Map an import name to a distribution name (repeatable).",
        ),
    ] = None,
    python_version: Annotated[
        str | None,
        typer.Option(
            "--python-version",
            metavar="X.Y",
            help="Target Python version for the standard-library list.",
            show_default="this Python's",
        ),
    ] = None,
    pin: Annotated[
        str,
        typer.Option(
            "--pin",
            metavar="exact|compatible|none",
            help="How installed versions become pins: ==V, ~=V, or no pin.",
        ),
    ] = "exact",
    conda: Annotated[
        list[str] | None,
        typer.Option(
            "--conda",
            metavar="NAME",
            help="Take this distribution (or import) from conda, not pip (repeatable).",
        ),
    ] = None,
    freeze: Annotated[
        bool,
        typer.Option(
            "--freeze", help="Also pin every installed transitive dependency (pipdeptree)."
        ),
    ] = False,
    keep_going: Annotated[
        bool,
        typer.Option(
            "--keep-going",
            "-k",
            help="Write the spec even if some files do not parse (imports recovered from "
            "their tokens); report them as warnings.",
        ),
    ] = False,
    json_report: Annotated[
        bool,
        typer.Option("--json", help="Print the findings as JSON on stdout instead of a table."),
    ] = False,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Do not read or write the analysis cache "
            "($PKG_ANALYZE_CACHE_DIR or ~/.cache/pkgtool/analyze).",
        ),
    ] = False,
    python: Annotated[
        Path | None,
        typer.Option(
            "--python",
            metavar="PYTHON",
            help="Take installed versions from this interpreter's environment "
            "(default: $VIRTUAL_ENV, else $CONDA_PREFIX, else python3 on PATH).",
        ),
    ] = None,
) -> None:
    """Find what each SCRIPT imports and write an environment spec to OUT.

    A SCRIPT may be a Python file, a Jupyter notebook or a directory. Parses with ast
    (never runs the code), follows local modules, drops the standard library, resolves
    the rest to distributions and pins installed versions. A table of the findings goes
    to stderr.
    """
    from pkgtool.analyzer import AnalyzeOptions, check_function
    from pkgtool.analyzer import analyze as run_analysis
    from pkgtool.spec import write_spec

    with _errors():
        if json_report and out == "-":
            raise UsageError("--json and OUT '-' both want stdout", hint="write the spec to a file")
        target = None if out == "-" else check_output(Path(out))
        mapping = _parse_mapping(pkg_mapping or [])
        spec_dir = Path(".") if target is None else target.parent
        options = AnalyzeOptions(
            python_version=python_version,
            toplevel=toplevel,
            function=function,
            pkg_mapping=mapping,
            spec_dir=spec_dir,
            pin=pin,
            conda=frozenset(conda or ()),
            freeze=freeze,
            python=python,
            cache=not no_cache,
        )
        if function is not None:
            check_function(scripts, function)
        result = run_analysis(scripts, options)
        fatal = [p for p in result.problems if p.entry]  # a named script; modules: warnings
        if fatal and not keep_going:
            first = fatal[0]
            others = ", ".join(str(p).split(": ", 1)[0] for p in fatal[1:])
            raise InputError(
                str(first) + (f" (also: {others})" if others else ""),
                hint="fix the file, leave it out, or pass --keep-going to write the spec "
                "with the imports recovered from its tokens",
            )
        for problem in result.problems:
            _err.print(f"[yellow]warning:[/] {_one_line(str(problem))}", markup=True)
        for finding in result.findings:
            hint = f" (hint: {finding.hint})" if finding.hint else ""
            _err.print(f"note: {_one_line(str(finding))}{hint}", markup=False)
        analysis = result.spec.analysis
        environment = analysis.environment if analysis is not None else None
        if json_report:
            sys.stdout.write(_analysis_json(result))
        elif _err.is_terminal or os.environ.get("PKG_TABLE"):
            _err.print(_imports_table(result.imports, _err.width, environment))
        if target is None:
            sys.stdout.write(result.spec.to_json())
        else:
            write_spec(result.spec, target)
            n = len(result.spec.dependencies) + len(result.spec.pip)
            files = len(result.spec.analysis.entry_points) if result.spec.analysis else 0
            _err.print(
                f"wrote {out}: {_count(n, 'requirement')} from {_count(files, 'entry point')}"
            )


def _analysis_json(result: Any) -> str:
    import json

    report = {
        "format": 1,
        "imports": [record.to_dict() for record in result.imports],
        "problems": [
            {"path": p.path, "line": p.line, "message": p.message, "entry": p.entry}
            for p in result.problems
        ],
        "findings": [
            {"path": f.path, "line": f.line, "module": f.module, "message": f.message}
            for f in result.findings
        ],
        "spec": result.spec.to_dict(),
    }
    return json.dumps(report, indent=2) + "\n"


def _imports_table(records: Any, width: int, environment: str | None = None) -> Any:
    """The findings as a table that fits ``width`` columns, titled with the environment
    versions came from. File names are never broken across lines: when a ``where`` does
    not fit the room left, its leading directories give way (``…/helpers/io.py:3``), never
    the file name (``--json`` has every site)."""
    from rich.table import Table

    rows: list[tuple[str, str, str, str, str]] = []
    for r in records:
        where = r.sites[0] if r.sites else ""
        if len(r.sites) > 1:
            where += f" (+{len(r.sites) - 1})"
        notes = [n for n, on in (("optional", r.optional), ("dynamic", r.kind == "dynamic")) if on]
        installer = (r.installer or "") + (f" ({', '.join(notes)})" if notes else "")
        rows.append((r.module, r.distribution or "-", r.version or "-", installer, where))
    headers = ("import", "distribution", "version", "installer", "where")
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    room = width - sum(widths[:4]) - 3 * 4
    wheres = [_shorten_path(row[4], room) for row in rows]
    title = f"imports (versions from {environment})" if environment else "imports"
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for column in headers[:2]:
        table.add_column(column, overflow="fold")
    for column in headers[2:4]:
        table.add_column(column, no_wrap=True)
    table.add_column("where", no_wrap=True, min_width=max(map(len, wheres), default=5))
    for row, where in zip(rows, wheres, strict=True):
        table.add_row(*row[:4], where)
    return table


def _shorten_path(text: str, room: int) -> str:
    """``text`` (``dir/sub/file.py:3``) without as many leading directories as needed to
    fit ``room`` characters, marked ``…/``; the file name itself always stays whole."""
    parts = text.split("/")
    for drop in range(len(parts)):
        candidate = "/".join(parts[drop:])
        if drop:
            candidate = "…/" + candidate
        if len(candidate) <= room:
            return candidate
    return ("…/" if len(parts) > 1 else "") + parts[-1]


def _parse_mapping(items: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in items:
        name, sep, dist = item.partition("=")
        if not sep or not name.strip() or not dist.strip():
            raise UsageError(
                f"--pkg-mapping {item!r} is not IMPORT=NAME",
                hint="for example --pkg-mapping cv2=opencv-python-headless",
            )
        mapping[name.strip()] = dist.strip()
    return mapping


# --------------------------------------------------------------------------- create


_CHANNEL = typer.Option(
    "--channel",
    "-c",
    metavar="URL",
    help="Conda channel to use instead of the spec's (repeatable).",
    show_default="the spec's channels",
)
_LOCAL_PYTHON = typer.Option(
    "--local-python",
    metavar="PYTHON",
    help="Take python from this local interpreter instead of a channel; "
    "other packages come from the package index (air-gapped builds).",
)
_CACHE_DIR = typer.Option(
    "--cache-dir",
    metavar="DIR",
    help="Build cache.",
    show_default="$PKG_BUILD_CACHE_DIR or ~/.cache/pkgtool",
)
_INCLUDE_OPTIONAL = typer.Option(
    "--include-optional",
    help="Also install the distributions of optional imports and check they import.",
)
_SPEC = typer.Argument(
    metavar="SPEC", help="deps.json, a poncho spec, environment.yml or requirements.txt."
)


def _choice(option: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise UsageError(
            f"{option} {value!r} is not one of {', '.join(choices)}",
            hint=f"use {option} {choices[0]}",
        )
    return value


def _build_options(cache_dir: Path | None, channel: list[str] | None, **kwargs: Any) -> Any:
    from pkgtool.builder import CreateOptions

    return CreateOptions(
        cache_dir=(cache_dir or _default_build_cache()).resolve(),
        channels=tuple(channel or ()),
        log_echo=sys.stderr if _state["debug"] else None,
        **kwargs,
    )


@app.command("lock", cls=_Command, short_help="Resolve a spec and write its lock.")
def lock_command(
    spec: Annotated[Path, _SPEC],
    out: Annotated[
        Path | None,
        typer.Argument(
            metavar="[LOCK]",
            help="Lock file to write.",
            show_default="SPEC's name with .lock.json",
        ),
    ] = None,
    channel: Annotated[list[str] | None, _CHANNEL] = None,
    local_python: Annotated[Path | None, _LOCAL_PYTHON] = None,
    cache_dir: Annotated[Path | None, _CACHE_DIR] = None,
    include_optional: Annotated[bool, _INCLUDE_OPTIONAL] = False,
) -> None:
    """Resolve SPEC and write its lock: every conda package and pip file, with sha256.

    Nothing is built; `pkg create --lock LOCK SPEC OUT` builds exactly these packages.
    """
    from pkgtool.builder import lock as make_lock
    from pkgtool.spec import load_spec

    with _errors():
        given = out or spec.with_name(spec.name.split(".")[0] + ".lock.json")
        target = check_output(given, "LOCK")
        loaded = load_spec(spec)
        options = _build_options(
            cache_dir, channel, local_python=local_python, include_optional=include_optional,
            refresh=True,
        )  # fmt: skip
        with _progress() as steps:
            result = make_lock(loaded, target.resolve(), options, steps.start)
        _err.print(
            f"wrote {given}: {_count(len(result.conda), 'conda package')}, "
            f"{_count(len(result.pip), 'pip distribution')} ({result.platform})"
        )


@app.command(cls=_Command, short_help="Build and pack the environment of a spec.")
def create(
    spec: Annotated[Path, _SPEC],
    out: Annotated[
        Path,
        typer.Argument(
            metavar="OUT",
            help="Archive to write: .tar.gz (or .tgz), .tar.zst, or .sh (self-extracting).",
        ),
    ],
    channel: Annotated[list[str] | None, _CHANNEL] = None,
    local_python: Annotated[Path | None, _LOCAL_PYTHON] = None,
    lock: Annotated[
        Path | None,
        typer.Option("--lock", metavar="LOCK", help="Build exactly the packages of LOCK."),
    ] = None,
    refresh: Annotated[
        bool,
        typer.Option("--refresh", help="Resolve again instead of reusing a cached resolution."),
    ] = False,
    cache_dir: Annotated[Path | None, _CACHE_DIR] = None,
    compress_level: Annotated[
        int,
        typer.Option(
            "--compress-level", metavar="N", min=0, max=19, help="Compression: gzip 0-9, zstd 1-19."
        ),
    ] = 4,
    include_optional: Annotated[bool, _INCLUDE_OPTIONAL] = False,
    installer: Annotated[
        str,
        typer.Option(
            "--installer", metavar="uv|pip", help="What resolves and installs the pip layer."
        ),
    ] = "uv",
    code_mode: Annotated[
        str | None,
        typer.Option(
            "--code",
            metavar="auto|git|all|none",
            help="Which local files to bundle: what the analysis found (auto, the default), "
            "what git tracks, every file under the code root, or none.",
        ),
    ] = None,
    code_root: Annotated[
        Path | None,
        typer.Option(
            "--code-root",
            metavar="DIR",
            help="Directory the bundled paths are relative to (and imported from).",
        ),
    ] = None,
    include: Annotated[
        list[str] | None,
        typer.Option(
            "--include",
            metavar="PATTERN",
            help="Also bundle what this gitignore-style pattern matches.",
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude",
            metavar="PATTERN",
            help="Leave out what this gitignore-style pattern matches.",
        ),
    ] = None,
    json_out: Annotated[
        bool,
        typer.Option("--json", help="Print the result as JSON (format 1) on stdout."),
    ] = False,
) -> None:
    """Build the environment SPEC describes and pack it into OUT (+ a lock beside it).

    The archive holds the environment and, as its own layer, the local code. The same
    lock, code, env, options and pkgtool version give the same archive bytes; an
    unchanged environment is served from the build cache, so a code edit only writes the
    code layer again. Progress goes to stderr: on a
    terminal a spinner on the current step, elsewhere (a batch log) one plain line per
    step as it finishes. With --json, stdout gets one JSON object describing the result
    (format 1, in the man page).
    """
    import dataclasses

    from pkgtool.builder import code as _code
    from pkgtool.builder import create as build
    from pkgtool.builder.lock import lock_path_for
    from pkgtool.spec import load_spec

    with _errors():
        target = check_output(out)
        check_output(lock_path_for(target), "the lock of OUT")
        loaded = load_spec(spec)
        sections = _code.from_command_line(
            loaded.code, spec.resolve().parent, mode=code_mode, root=code_root,
            include=include or (), exclude=exclude or (),
        )  # fmt: skip
        loaded = dataclasses.replace(loaded, code=sections)
        options = _build_options(
            cache_dir, channel, local_python=local_python, lock=lock, refresh=refresh,
            compress_level=compress_level, include_optional=include_optional,
            installer=_choice("--installer", installer, ("uv", "pip")),
        )  # fmt: skip
        with _progress() as steps:
            result = build(loaded, spec.resolve().parent, target, options, steps.start)
        verified = list(result.manifest.get("verified_imports", []))
        how = "from the build cache" if result.cache_hit else f"in {result.seconds:.1f} s"
        _err.print(
            f"wrote {out} ({_size(result.size)}) and {result.lock.name} {how}; "
            f"verified {_count(len(verified), 'import')}"
            + (
                f"; code: {_count(len(result.code.files), 'file')} ({result.code.hash[:12]})"
                if result.code.files
                else ""
            )
        )
        if json_out:
            sys.stdout.write(_create_json(result, steps.done))


CREATE_JSON_FORMAT = 1
"""Version of the ``pkg create --json`` object (:func:`_create_json`)."""


def _create_json(result: Any, steps: list[tuple[str, float]]) -> str:
    """The ``pkg create --json`` object: paths absolute, sizes in bytes, times in seconds,
    facts from the archive's manifest (format documented in pkg-create(1), JSON)."""
    import json

    manifest = result.manifest
    data = {
        "format": CREATE_JSON_FORMAT,
        "archive": str(result.archive),
        "lock": str(result.lock),
        "size": result.size,
        "seconds": round(result.seconds, 3),
        "cache_hit": result.cache_hit,
        "steps": [{"step": text, "seconds": round(seconds, 3)} for text, seconds in steps],
        "platform": manifest.get("platform"),
        "python": manifest.get("python"),
        "glibc": manifest.get("glibc"),
        "verified_imports": list(manifest.get("verified_imports", [])),
        "code_files": [f.path for f in result.code.files],
        "code_hash": result.code.hash if result.code.files else None,
        "layers": [
            {"kind": r.kind, "id": r.id, "sha256": r.sha256, "offset": r.offset, "length": r.length}
            for r in (result.layers.layers if result.layers else ())
        ],
    }
    return json.dumps(data, indent=2) + "\n"


class _Steps:
    """Times the build steps the builder reports (:data:`pkgtool.builder.Reporter`).

    ``start(text)`` ends the current step and starts the next; ``done`` holds the
    finished ``(text, seconds)``. ``on_finish`` shows each finished step.
    """

    def __init__(self, on_finish: Callable[[str, float], None], on_start: Callable[[str], None]):
        self.done: list[tuple[str, float]] = []
        self._current: tuple[str, float] | None = None
        self._on_finish = on_finish
        self._on_start = on_start

    def start(self, text: str) -> None:
        if text.startswith("warning: "):  # the builder's warnings are not steps
            _err.print(f"[yellow]warning:[/] {_one_line(text[9:])}", markup=True)
            return
        self.finish()
        text = _grammar(text)
        self._current = (text, time.monotonic())
        self._on_start(text)

    def finish(self) -> None:
        if self._current is not None:
            text, started = self._current
            self._current = None
            seconds = time.monotonic() - started
            self.done.append((text, seconds))
            self._on_finish(text, seconds)


@contextmanager
def _progress() -> Iterator[_Steps]:
    """On a terminal, a rich spinner on the current step and a line with the duration of
    each finished one; elsewhere one plain line per finished step, printed (and flushed)
    as it finishes, so a batch log shows where a build is."""
    if not _err.is_terminal:

        def plain(text: str, seconds: float) -> None:
            _err.print(f"{time.strftime('%H:%M:%S')} {text} ({seconds:.1f} s)", markup=False)
            _err.file.flush()

        steps = _Steps(plain, lambda text: None)
        yield steps
        if sys.exc_info()[0] is None:
            steps.finish()
        return
    with _err.status("starting") as status:

        def done(text: str, seconds: float) -> None:
            _err.print(f"[green]✓[/] {_one_line(text)} [dim]({seconds:.1f} s)[/]")

        steps = _Steps(done, lambda text: status.update(_one_line(text)))
        try:
            yield steps
        finally:
            if sys.exc_info()[0] is None:
                steps.finish()


_COUNTED = re.compile(r"\b(0|1) ((?:conda |pip )?)(package|import|file|distribution)s\b")


def _grammar(text: str) -> str:
    """Counted nouns in step texts agree with their count: "1 pip packages" -> "1 pip
    package", "checking 0 imports" -> "checking no imports"."""
    return _COUNTED.sub(lambda m: f"1 {m[2]}{m[3]}" if m[1] == "1" else f"no {m[2]}{m[3]}s", text)


def _count(n: int, noun: str) -> str:
    """``3 imports``, ``1 import``, ``no imports``."""
    return f"{n} {noun}" if n == 1 else f"{n or 'no'} {noun}s"


# --------------------------------------------------------------------------- inspect


@app.command(cls=_Command, short_help="Show what an archive, lock or spec holds.")
def inspect(
    target: Annotated[
        Path,
        typer.Argument(
            metavar="ARCHIVE|LOCK|SPEC",
            help="Archive made by `pkg create`, its .lock.json, or a spec.",
        ),
    ],
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON (format 1) instead.")
    ] = False,
) -> None:
    """Show what ARCHIVE, LOCK or SPEC holds, without unpacking anything.

    For an archive: the manifest (pkgtool version, platform, python, glibc floor, the
    imports verified at build time, the bundled code files), every conda package and pip
    distribution with its size on disk once unpacked, largest first, and the largest
    directories. For a lock or a spec: the platform, channels and packages they name.
    """
    from pkgtool.inspection import inspect_path

    with _errors():
        result = inspect_path(target)
        if json_out:
            import json

            sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
        else:
            out = _out()
            out.print(_inspection_view(result, out.width))


_ArchiveArgument = Annotated[
    Path, typer.Argument(metavar="ARCHIVE", help="Archive made by `pkg create`.")
]
"""The ARCHIVE argument of the commands that read an archive."""

_NodeCacheDir = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        metavar="DIR",
        help="Where environments are unpacked.",
        show_default="$PKG_CACHE_DIR, else /tmp/pkgtool-$UID, else $TMPDIR/pkgtool-$UID",
    ),
]
"""The ``--cache-dir`` option of the commands that run an archive (the node cache root)."""


@app.command(
    "check-client", cls=_Command, short_help="Check a client's versions against an archive."
)
def check_client_command(
    archive: _ArchiveArgument,
    python: Annotated[
        Path,
        typer.Argument(metavar="PYTHON", help="The interpreter that runs the client (driver)."),
    ],
) -> None:
    """Check that the client run by PYTHON and the workers started from ARCHIVE agree.

    Compares the Python minor version and the versions of cloudpickle, dask, distributed,
    parsl and ray that both the archive's lock and PYTHON's environment have (one line
    each on stdout: name, archive version, client version, ok or DIFFERS). Exits 0 when
    they all agree, 3 when one differs.
    """
    from pkgtool.skew import check_client

    with _errors():
        report = check_client(archive, python)
        for pair in report.pairs:
            state = "ok" if pair.agree else "DIFFERS"
            sys.stdout.write(f"{pair.name} {pair.archive} {pair.client} {state}\n")
        bad = report.mismatches
        if bad:
            more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
            raise InputError(
                f"the client {python} differs from {archive} in {bad[0].name} (archive "
                f"{bad[0].archive}, client {bad[0].client}){more}",
                hint="build the archive for this client (pkg analyze --python PYTHON ...), "
                "or install the archive's versions in the client",
            )


def _out() -> Console:
    """stdout for data people read (the human view of ``inspect``)."""
    plain = bool(os.environ.get("NO_COLOR"))
    return Console(highlight=False, color_system=None if plain else "auto")


def _inspection_view(result: Any, width: int) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    title = Text(result.path, style="bold")
    if result.kind == "archive":
        title.append(
            f"  {_size(result.archive_size)} ({result.compression}); "
            f"{_size(result.unpacked_size)} in {result.files:,} files unpacked"
        )
    else:
        title.append(f"  ({result.kind})")
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column(overflow="fold")
    rows = [
        ("built by", f"pkgtool {result.pkgtool_version}" if result.pkgtool_version else None),
        ("manifest", f"format {result.format}" if result.format is not None else None),
        ("platform", result.platform),
        ("python", result.python),
    ]
    if result.kind == "archive":
        rows.append(("glibc floor", result.glibc or "none stated"))
        rows.append(("verified", _listing(result.verified_imports, "imports")))
        rows.append(("code files", _listing(result.code_files, "files")))
        rows.append(("code hash", result.code_hash))
    rows.append(("channels", ", ".join(result.channels) or None))
    for label, value in rows:
        if value:
            facts.add_row(label, value)
    parts: list[Any] = [title, facts, Text()]
    sized = result.kind == "archive"
    packages = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    packages.add_column("package", overflow="fold", ratio=3)
    packages.add_column("version", overflow="fold", ratio=2)
    packages.add_column("from", no_wrap=True)
    if sized:
        packages.add_column("size", justify="right", no_wrap=True)
        packages.add_column("", no_wrap=True, width=_BAR)
    largest = max((p.size or 0 for p in result.packages), default=0)
    for package in result.packages:
        row = [package.name, package.version or "-", package.installer or "-"]
        if sized:
            row += [_size(package.size), _bar(package.size or 0, largest)]
        packages.add_row(*row)
    parts.append(packages)
    if result.directories:
        directories = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        directories.add_column("largest directories", no_wrap=True)
        directories.add_column("size", justify="right", no_wrap=True)
        directories.add_column("", no_wrap=True, width=_BAR)
        top = result.directories[0].size
        room = width - _BAR - 10 - 2
        for d in result.directories:
            path = _shorten_path(d.path.rstrip("/"), room - 1) + "/"
            directories.add_row(path, _size(d.size), _bar(d.size, top))
        parts += [Text(), directories]
    return Group(*parts)


_BAR = 20
"""Width of the size bars of ``pkg inspect``, in columns."""


def _bar(value: int, largest: int) -> Any:
    """A bar of ``_BAR`` columns filled in proportion to ``value / largest`` (eighths of a
    column, so small packages still show), made of characters: it stays with NO_COLOR."""
    from rich.text import Text

    eighths = round(_BAR * 8 * value / largest) if largest else 0
    full, part = divmod(eighths, 8)
    text = "█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")
    return Text(text or ("▏" if value else ""), style="cyan")


def _size(size: int | None) -> str:
    """Bytes for people, SI units as in the rest of pkg's output (1 MB = 10**6 bytes)."""
    if size is None:
        return "-"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def _listing(items: tuple[str, ...], noun: str) -> str:
    if not items:
        return "none"
    shown = ", ".join(items[:8])
    more = f", … ({len(items)} {noun})" if len(items) > 8 else ""
    return shown + more


# --------------------------------------------------------------------------- run


@app.command(
    cls=_Command,
    short_help="Run a command inside a packed environment.",
    context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True},
)
def run(
    archive: _ArchiveArgument,
    command: Annotated[
        list[str], typer.Argument(metavar="COMMAND", help="Command and arguments to run.")
    ],
    cache_dir: _NodeCacheDir = None,
) -> None:
    """Run COMMAND inside the environment of ARCHIVE (unpacked once per node, then reused).

    Exits with COMMAND's status; 125 when the runner fails, 126 when COMMAND is not
    executable, 127 when it is not found.
    """
    from pkgtool.runner import RunOptions
    from pkgtool.runner import run as run_in

    with _errors():
        run_in(archive, command, RunOptions(cache_dir=cache_dir))


@app.command("call", cls=_Command, short_help="Call one function inside a packed environment.")
def call_command(
    archive: _ArchiveArgument,
    target: Annotated[
        str,
        typer.Argument(
            metavar="MODULE:FUNCTION", help="The function, imported from the environment."
        ),
    ],
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            "-i",
            metavar="NAME=PATH_OR_VALUE",
            help="An argument, turned into the type its parameter's annotation names (repeatable).",
        ),
    ] = None,
    returns: Annotated[
        list[str] | None,
        typer.Option(
            "--returns",
            "-r",
            metavar="SPEC",
            help="Log hints for the return value: 'NAME, NAME: KIND[format=F]'.",
        ),
    ] = None,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", metavar="DIR", help="Where results and artifacts go."),
    ] = Path("."),
    cache_dir: _NodeCacheDir = None,
) -> None:
    """Call MODULE:FUNCTION inside the environment of ARCHIVE, through the runner.

    Inputs become the types the parameters' annotations name (packagers); the return value
    is written by the log hints of --returns: results into DIR/results.json, artifacts as
    DIR/NAME.FORMAT, and DIR/outputs.json last. Exits 0, 2 for a bad input (before the
    call), 1 when the function raises; 125-127 as pkg run.
    """
    from pkgtool.call import CallRequest, call

    request = CallRequest(
        archive, target, tuple(inputs or ()), tuple(returns or ()), out, cache_dir
    )
    with _errors():
        call(request)


# --------------------------------------------------------------------------- cache, runner

cache_app = typer.Typer(
    cls=_Group,
    help="The node's environment cache (where pkg run and pkg-run.sh unpack archives).",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(
    cache_app, name="cache", short_help="List and prune the environments unpacked on this node."
)

_CACHE_DIR_HELP = "Cache root (default: as pkg run: $PKG_CACHE_DIR, else /tmp/pkgtool-$UID)."


def _cache_root(cache_dir: Path | None) -> Path:
    from pkgtool.runner import RunOptions, cache_root

    return cache_root(RunOptions(cache_dir=cache_dir, lock_timeout=0))


@cache_app.command("list", cls=_Command, short_help="List the unpacked environments.")
def cache_list(
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", metavar="DIR", help=_CACHE_DIR_HELP)
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """List the unpacked environments and code layers: id, kind, size on disk, last use,
    state, archive."""
    import json

    from pkgtool.runner._cache import LIST_FORMAT, list_environments

    with _errors():
        root = _cache_root(cache_dir)
        found = list_environments(root)
        if json_out:
            document = {
                "format": LIST_FORMAT,
                "root": str(root),
                "environments": [
                    {
                        "id": e.id,
                        "path": str(e.path),
                        "archive": e.archive,
                        "size": e.size,
                        "last_use": e.last_use,
                        "ready": e.ready,
                        "in_use": e.in_use,
                        "kind": e.kind,
                    }
                    for e in found
                ],
            }
            sys.stdout.write(json.dumps(document, indent=2) + "\n")
            return
        for e in found:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.last_use))
            state = "in use" if e.in_use else ("ready" if e.ready else "incomplete")
            name = os.path.basename(e.archive) or "-"
            print(f"{e.id}  {e.kind:<4}  {_size(e.size):>9}  {when}  {state:<10}  {name}")
        _err.print(f"{len(found)} environment(s) in {root}")


@cache_app.command("prune", cls=_Command, short_help="Remove unused environments.")
def cache_prune(
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", metavar="DIR", help=_CACHE_DIR_HELP)
    ] = None,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            metavar="DURATION",
            help="Also remove environments last used longer ago than DURATION (90s, 30m, "
            "12h, 7d, 2w).",
        ),
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Remove every environment that is not in use.")
    ] = False,
) -> None:
    """Remove incomplete environments and leftovers of killed runs, and with --older-than or
    --all ready ones too. Never removes an environment a running command is using."""
    from pkgtool.runner._cache import parse_duration, prune

    with _errors():
        try:
            seconds = parse_duration(older_than) if older_than is not None else None
        except ValueError as exc:
            raise UsageError(str(exc), hint="pkg cache prune --older-than 7d") from None
        root = _cache_root(cache_dir)
        result = prune(root, older_than=seconds, everything=everything)
        for env_id in result.removed:
            print(env_id)
        _err.print(
            f"removed {len(result.removed)} environment(s), freed {_size(result.freed)}; "
            f"{len(result.in_use)} in use kept"
        )


@app.command("runner", cls=_Command, short_help="Write the standalone POSIX sh runner.")
def runner_command(
    dest: Annotated[
        Path | None,
        typer.Argument(metavar="[DEST]", help="Where to write pkg-run.sh.", show_default="stdout"),
    ] = None,
) -> None:
    """Write the standalone POSIX sh runner, for nodes without pkgtool (or Python).

    Run it there as: sh pkg-run.sh env.tar.gz python3 analysis.py
    """
    from pkgtool.runner import runner_script

    with _errors():
        script = runner_script().read_bytes()
        if dest is None:
            sys.stdout.buffer.write(script)
            return
        given = dest / "pkg-run.sh" if dest.is_dir() else dest
        target = check_output(given, "DEST")
        temporary = target.with_name(f".{target.name}.tmp{os.getpid()}")
        try:
            temporary.write_bytes(script)
            temporary.chmod(0o755)
            os.replace(temporary, target)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise write_failed(target, exc) from exc
        _err.print(f"wrote {given}")


def main() -> None:
    """Console-script entry point (``pkg``).

    Usage errors (unknown option, missing argument, bad value) from any command become one
    ``error:`` line and one ``hint:`` line with exit status 2, with or without ``--debug``.
    """
    try:
        status = app(prog_name="pkg", standalone_mode=False)
    except _click.exceptions.NoArgsIsHelpError as exc:
        sys.stdout.write(exc.ctx.get_help() + "\n")
        status = 0
    except _click.exceptions.UsageError as exc:
        _usage_failure(exc)
    except _click.ClickException as exc:
        _fail(exc.format_message(), None, exc.exit_code)
    except typer.Abort:
        _fail("aborted", None, 130)
    raise SystemExit(status if isinstance(status, int) else 0)


def _usage_failure(exc: _click.exceptions.UsageError) -> NoReturn:
    path = exc.ctx.command_path if exc.ctx is not None else "pkg"
    hint = f"see '{path} --help'"
    message = exc.format_message()
    if isinstance(exc, _click.exceptions.NoSuchOption):
        message = exc.message
        if exc.possibilities:
            hint = f"did you mean {next(iter(exc.possibilities))}? see '{path} --help'"
    message = message.rstrip(".")
    try:
        _fail(message[:1].lower() + message[1:], hint, EXIT_USAGE)
    except typer.Exit as done:
        raise SystemExit(done.exit_code) from None
