"""The ``pkg`` command line: the only module that parses arguments, prints and exits.

Each command parses its arguments, calls one library function, and renders the result:
data on stdout, messages for people on stderr (rich). Errors derived from
:class:`pkgtool.errors.PkgError` become ``error: ...`` / ``hint: ...`` on stderr and the
error's exit code (DESIGN.md, "Exit codes"); tracebacks only with ``--debug``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from pkgtool import __version__
from pkgtool.errors import EXIT_INTERNAL, InputError, PkgError, UsageError

app = typer.Typer(
    name="pkg",
    help="Ship a Python script's environment to batch-cluster worker nodes.\n\n"
    "pkg analyze analysis.py deps.json; pkg create deps.json env.tar.gz; "
    "pkg run env.tar.gz python3 analysis.py",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_err = Console(stderr=True, highlight=False, soft_wrap=True)
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        print(f"pkgtool {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks and tool output on errors.")
    ] = False,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    _state["debug"] = debug


@contextmanager
def _errors() -> Iterator[None]:
    """Turn pkgtool errors into ``error:``/``hint:`` lines and their exit codes."""
    try:
        yield
    except PkgError as exc:
        if _state["debug"]:
            _err.print_exception()
        _fail(exc.message, exc.hint, exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", None, 130)
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence, reported as exit 1
        if _state["debug"]:
            _err.print_exception()
        _fail(
            f"internal error: {type(exc).__name__}: {exc}",
            "run again with --debug and report the traceback",
            EXIT_INTERNAL,
        )


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


@app.command()
def analyze(
    scripts: Annotated[
        list[Path], typer.Argument(help="Python scripts to analyse (entry points).")
    ],
    out: Annotated[str, typer.Argument(help="Where to write the spec (JSON); - for stdout.")],
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
            help="Target Python version for the standard-library list (default: this one).",
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
            "(default: the one running pkg).",
        ),
    ] = None,
) -> None:
    """Find what SCRIPTS import and write an environment spec to OUT.

    SCRIPTS may be Python files, Jupyter notebooks or directories. Parses with ast
    (never runs the code), follows local modules, drops the standard library, resolves
    the rest to distributions and pins installed versions. A table of the findings goes
    to stderr.
    """
    from pkgtool.analyzer import AnalyzeOptions
    from pkgtool.analyzer import analyze as run_analysis
    from pkgtool.spec import write_spec

    with _errors():
        if json_report and out == "-":
            raise UsageError("--json and OUT '-' both want stdout", hint="write the spec to a file")
        mapping = _parse_mapping(pkg_mapping or [])
        spec_dir = Path(".") if out == "-" else Path(out).parent
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
        result = run_analysis(scripts, options)
        if result.problems and not keep_going:
            first = result.problems[0]
            others = ", ".join(str(p).split(": ", 1)[0] for p in result.problems[1:])
            raise InputError(
                str(first) + (f" (also: {others})" if others else ""),
                hint="fix the file, leave it out, or pass --keep-going to write the spec "
                "with the imports recovered from its tokens",
            )
        for problem in result.problems:
            _err.print(f"[yellow]warning:[/] {_one_line(str(problem))}", markup=True)
        if json_report:
            sys.stdout.write(_analysis_json(result))
        elif _err.is_terminal or os.environ.get("PKG_TABLE"):
            _err.print(_imports_table(result.imports))
        if out == "-":
            sys.stdout.write(result.spec.to_json())
        else:
            write_spec(result.spec, Path(out))
            n = len(result.spec.dependencies) + len(result.spec.pip)
            files = len(result.spec.analysis.entry_points) if result.spec.analysis else 0
            _err.print(f"wrote {out}: {n} requirements from {files} entry point(s)")


def _analysis_json(result: Any) -> str:
    import json

    report = {
        "format": 1,
        "imports": [record.to_dict() for record in result.imports],
        "problems": [
            {"path": p.path, "line": p.line, "message": p.message} for p in result.problems
        ],
        "spec": result.spec.to_dict(),
    }
    return json.dumps(report, indent=2) + "\n"


def _imports_table(records: Any) -> Any:
    from rich.table import Table

    table = Table(title="imports", title_justify="left", show_edge=False, pad_edge=False)
    for column in ("import", "distribution", "version", "installer", "where"):
        table.add_column(column, overflow="fold")
    for r in records:
        where = r.sites[0] if r.sites else ""
        if len(r.sites) > 1:
            where += f" (+{len(r.sites) - 1})"
        notes = [n for n, on in (("optional", r.optional), ("dynamic", r.kind == "dynamic")) if on]
        installer = (r.installer or "") + (f" ({', '.join(notes)})" if notes else "")
        table.add_row(r.module, r.distribution or "-", r.version or "-", installer, where)
    return table


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


@app.command()
def create(
    spec: Annotated[
        Path,
        typer.Argument(help="deps.json, a poncho spec, environment.yml or requirements.txt."),
    ],
    out: Annotated[
        Path, typer.Argument(help="Archive to write: .tar.gz, .tgz, .tar.bz2, .tar.zst, .tar, .zip")
    ],
    channel: Annotated[
        list[str] | None,
        typer.Option(
            "--channel",
            "-c",
            metavar="URL",
            help="Conda channel to use instead of the spec's (repeatable).",
        ),
    ] = None,
    local_python: Annotated[
        Path | None,
        typer.Option(
            "--local-python",
            metavar="PYTHON",
            help="Take python from this local interpreter instead of a channel; "
            "other packages come from the package index (air-gapped builds).",
        ),
    ] = None,
    lock: Annotated[
        Path | None,
        typer.Option("--lock", metavar="LOCK", help="Rebuild exactly the packages of LOCK."),
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            metavar="DIR",
            help="Build cache (default: $PKG_BUILD_CACHE_DIR or ~/.cache/pkgtool).",
        ),
    ] = None,
    compress_level: Annotated[
        int, typer.Option("--compress-level", min=0, max=9, help="Compression level 0-9.")
    ] = 4,
    include_optional: Annotated[
        bool,
        typer.Option(
            "--include-optional",
            help="Also install the distributions of optional imports and check they import.",
        ),
    ] = False,
) -> None:
    """Build the environment SPEC describes and pack it into OUT (+ a lock beside it)."""
    from pkgtool.builder import CreateOptions
    from pkgtool.builder import create as build
    from pkgtool.spec import load_spec

    with _errors():
        loaded = load_spec(spec)
        options = CreateOptions(
            cache_dir=(cache_dir or _default_build_cache()).resolve(),
            channels=tuple(channel or ()),
            local_python=local_python,
            lock=lock,
            compress_level=compress_level,
            include_optional=include_optional,
        )
        with _progress() as report:
            result = build(loaded, spec.resolve().parent, out, options, report)
        mb = result.size / 1e6
        _err.print(
            f"wrote {out} ({mb:.1f} MB) and {result.lock.name} in {result.seconds:.1f} s; "
            f"verified {len(result.manifest['verified_imports'])} imports"
        )


@contextmanager
def _progress() -> Iterator[Any]:
    """A step reporter: on a terminal, a rich spinner on the current step and a line with
    the duration of each finished one; nothing otherwise (stderr stays clean in logs)."""
    if not _err.is_terminal:
        yield None
        return
    current: list[tuple[str, float]] = []

    def finish() -> None:
        if current:
            text, started = current.pop()
            _err.print(f"[green]✓[/] {text} [dim]({time.monotonic() - started:.1f} s)[/]")

    with _err.status("starting") as status:

        def report(text: str) -> None:
            finish()
            current.append((text, time.monotonic()))
            status.update(text)

        try:
            yield report
        finally:
            if sys.exc_info()[0] is None:
                finish()


# --------------------------------------------------------------------------- run


@app.command(
    context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True},
)
def run(
    archive: Annotated[Path, typer.Argument(help="Archive made by `pkg create`.")],
    command: Annotated[list[str], typer.Argument(help="Command and arguments to run.")],
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            metavar="DIR",
            help="Where environments are unpacked (default: $PKG_CACHE_DIR, else "
            "/tmp/pkgtool-$UID, else $TMPDIR/pkgtool-$UID).",
        ),
    ] = None,
) -> None:
    """Run COMMAND inside the environment of ARCHIVE (unpacked once per node, then reused).

    Exits with COMMAND's status; 125 when the runner fails, 126 when COMMAND is not
    executable, 127 when it is not found.
    """
    from pkgtool.runner import RunOptions
    from pkgtool.runner import run as run_in

    with _errors():
        run_in(archive, command, RunOptions(cache_dir=cache_dir))


# --------------------------------------------------------------------------- cache, runner

cache_app = typer.Typer(
    help="The node's environment cache (where pkg run and pkg-run.sh unpack archives).",
    no_args_is_help=True,
)
app.add_typer(cache_app, name="cache")

_CACHE_DIR_HELP = "Cache root (default: as pkg run: $PKG_CACHE_DIR, else /tmp/pkgtool-$UID)."


def _cache_root(cache_dir: Path | None) -> Path:
    from pkgtool.runner import RunOptions, cache_root

    return cache_root(RunOptions(cache_dir=cache_dir, lock_timeout=0))


@cache_app.command("list")
def cache_list(
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", metavar="DIR", help=_CACHE_DIR_HELP)
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """List the unpacked environments: id, archive, size on disk, last use, in use."""
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
            print(f"{e.id}  {_size(e.size):>9}  {when}  {state:<10}  {name}")
        _err.print(f"{len(found)} environment(s) in {root}")


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


@cache_app.command("prune")
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


@app.command("runner")
def runner_command(
    dest: Annotated[
        Path | None,
        typer.Argument(help="Where to write pkg-run.sh (default: stdout)."),
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
        target = dest / "pkg-run.sh" if dest.is_dir() else dest
        temporary = target.with_name(f".{target.name}.tmp{os.getpid()}")
        try:
            temporary.write_bytes(script)
            temporary.chmod(0o755)
            os.replace(temporary, target)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise InputError(
                f"cannot write {target}: {exc.strerror}", hint="choose a writable path"
            ) from exc
        _err.print(f"wrote {target}")


def main() -> None:
    """Console-script entry point (``pkg``)."""
    app()
