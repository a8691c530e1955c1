"""The only door to py-rattler: solve, install and index, each in a child process.

py-rattler (0.28) is an in-process Rust library; the interpreter that used it was measured
to crash with SIGSEGV at exit in 3 of 48 runs *after* the work had finished (notes,
"offline-conda-channel.md"). So every rattler call here runs in a child interpreter
(``python -m pkgtool.builder._rattler REQUEST RESPONSE``) that writes its answer as JSON and
leaves with ``os._exit``; the parent judges success by that answer alone, never by the
child's exit status.

Records crossing the boundary are plain dicts with the lock's fields (``name``, ``version``,
``build``, ``build_number``, ``subdir``, ``url``, ``sha256``, ``md5``, ``channel``,
``depends``, ``noarch``, ``size`` in bytes).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pkgtool.builder import _proc
from pkgtool.builder._proc import BuildLog
from pkgtool.errors import BuildError, PkgError, ResolutionError

_MODULE = "pkgtool.builder._rattler"


def solve(
    channels: Sequence[str], specs: Sequence[str], cache_dir: Path, log: BuildLog
) -> list[dict[str, Any]]:
    """Solve ``specs`` against ``channels`` for this machine's subdir (and ``noarch``).

    ``channels`` are names (``conda-forge``) or URLs (``file:///srv/channel``);
    ``cache_dir`` holds rattler's repodata cache (``repodata/``). Nothing is installed.

    Returns the solved records (dicts, see module docstring), sorted by name.

    Raises:
        ResolutionError: unsatisfiable specs, a package not found, a channel unreachable.
        BuildError: rattler itself failed (reported as an internal problem of the build).
    """
    answer = _call(
        {
            "op": "solve",
            "channels": list(channels),
            "specs": list(specs),
            "cache_dir": str(cache_dir),
        },
        log,
    )
    records: list[dict[str, Any]] = answer["records"]
    return records


def install(
    channels: Sequence[str],
    packages: Sequence[tuple[str, str]],
    prefix: Path,
    cache_dir: Path,
    log: BuildLog,
) -> list[dict[str, Any]]:
    """Install exactly ``packages`` (``(name, url)`` pairs of a lock) into ``prefix``.

    The records are looked up by name in ``channels`` and matched by URL; no solve happens.
    ``cache_dir`` holds rattler's repodata and package caches (``repodata/``, ``pkgs/``);
    conda-pack reads package files from ``pkgs/``, so keep it until packing is done.

    Returns the installed records (dicts, see module docstring), sorted by name.

    Raises:
        ResolutionError: a locked package is not in the channels (or they are unreachable).
        BuildError: the download or the install failed.
    """
    answer = _call(
        {
            "op": "install",
            "channels": list(channels),
            "packages": [list(p) for p in packages],
            "prefix": str(prefix),
            "cache_dir": str(cache_dir),
        },
        log,
    )
    records: list[dict[str, Any]] = answer["records"]
    return records


def index_channel(channel_dir: Path, log: BuildLog | None = None) -> None:
    """Write ``repodata.json`` for every subdir of the local channel at ``channel_dir``.

    Raises:
        BuildError: indexing failed.
    """
    _call({"op": "index", "channel_dir": str(channel_dir)}, log or BuildLog())


def _call(request: dict[str, Any], log: BuildLog) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pkgtool-rattler-") as tmp:
        req = Path(tmp, "request.json")
        resp = Path(tmp, "response.json")
        req.write_text(json.dumps(request), encoding="utf-8")
        proc = _proc.run([sys.executable, "-m", _MODULE, req, resp], log, env=dict(os.environ))
        try:
            answer: dict[str, Any] = json.loads(resp.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise PkgError(
                f"rattler {request['op']} stopped without an answer (exit {proc.returncode})"
                + (f": {' / '.join(tail)}" if tail else ""),
                hint=log.hint("if it persists, report it with the spec"),
            ) from None
    kind = answer.get("error")
    if kind == "resolution":
        raise ResolutionError(answer["message"], hint=answer.get("hint"))
    if kind == "build":
        raise BuildError(answer["message"], hint=answer.get("hint"))
    if kind is not None:
        raise PkgError(answer["message"], hint=log.hint("report it with the spec"))
    return answer


# --------------------------------------------------------------------------- child side


def _record_dict(record: Any) -> dict[str, Any]:
    kind = record.noarch
    noarch = "python" if kind.python else "generic" if kind.generic else None
    return {
        "name": record.name.normalized,
        "version": str(record.version),
        "build": str(record.build),
        "build_number": int(record.build_number),
        "subdir": str(record.subdir),
        "url": str(record.url),
        "sha256": record.sha256.hex() if record.sha256 else None,
        "md5": record.md5.hex() if record.md5 else None,
        "channel": str(record.channel) if record.channel else None,
        "depends": list(record.depends),
        "noarch": noarch,
        "size": int(record.size) if record.size is not None else None,
    }


def _channel_hint(channels: Sequence[str]) -> str:
    return (
        f"searched channels: {', '.join(channels)}; check the names and versions, "
        "try a looser version, or add a channel with --channel"
    )


def _unreachable(exc: Exception, channels: Sequence[str]) -> dict[str, Any] | None:
    """The answer for a channel that cannot be reached (network down, no such host, a
    ``file://`` channel that is not there), or None for other errors. rattler reports
    these as a ``GatewayError`` whose text names the URL and ends with the root cause
    ("Caused by: ..."), as of py-rattler 0.28."""
    from rattler.exceptions import GatewayError

    text = " ".join(str(exc).split())
    if not isinstance(exc, GatewayError):
        return None
    markers = ("error sending request", "could not find subdir", "failed to open file")
    if not any(marker in text for marker in markers):
        return None
    named = [c for c in channels if c.rstrip("/") in text or f"/{c}/" in text]
    cause = text.rsplit("Caused by:", 1)[-1].strip() if "Caused by:" in text else text
    return {
        "error": "resolution",
        "message": f"cannot reach channel {', '.join(named or channels)}: {cause}",
        "hint": "check the network and the channel URL; or build with --local-python PYTHON "
        "(no conda channel needed), or pass a reachable --channel (a mirror, a file:// "
        "channel)",
    }


def _read_error(exc: BaseException, channels: Sequence[str]) -> dict[str, Any]:
    unreachable = _unreachable(exc, channels) if isinstance(exc, Exception) else None
    return unreachable or {
        "error": "resolution",
        "message": f"cannot read the channels: {type(exc).__name__}: {exc}".splitlines()[0],
        "hint": _channel_hint(channels),
    }


async def _solve(req: dict[str, Any]) -> dict[str, Any]:
    import rattler
    from rattler.exceptions import SolverError

    cache = Path(req["cache_dir"])
    gateway = rattler.Gateway(cache_dir=cache / "repodata")
    channels = [rattler.Channel(c) for c in req["channels"]]
    subdirs = [rattler.Subdir.current(), rattler.Subdir("noarch")]
    try:
        records = await rattler.solve(
            sources=channels,
            specs=req["specs"],
            gateway=gateway,
            platforms=subdirs,
            virtual_packages=rattler.VirtualPackage.detect(),
        )
    except SolverError as exc:
        first = str(exc).strip().splitlines()
        return {
            "error": "resolution",
            "message": "cannot solve the conda dependencies: " + " ".join(first[:6]),
            "hint": _channel_hint(req["channels"]),
        }
    except Exception as exc:  # noqa: BLE001 - rattler raises many unrelated types here
        return _read_error(exc, req["channels"])
    return {"records": sorted((_record_dict(r) for r in records), key=lambda d: d["name"])}


async def _install(req: dict[str, Any]) -> dict[str, Any]:
    import rattler

    cache = Path(req["cache_dir"])
    gateway = rattler.Gateway(cache_dir=cache / "repodata")
    channels = [rattler.Channel(c) for c in req["channels"]]
    subdirs = [rattler.Subdir.current(), rattler.Subdir("noarch")]
    wanted = {url for _, url in req["packages"]}
    try:
        names = sorted({name for name, _ in req["packages"]})
        found = await gateway.query(channels, subdirs, names, recursive=False)
    except Exception as exc:  # noqa: BLE001 - rattler raises many unrelated types here
        return _read_error(exc, req["channels"])
    by_url = {str(r.url): r for per in found for r in per if str(r.url) in wanted}
    missing = sorted(wanted - set(by_url))
    if missing:
        return {
            "error": "resolution",
            "message": f"locked package not found in the channels: {missing[0]}",
            "hint": _channel_hint(req["channels"]),
        }
    records = list(by_url.values())
    try:
        await rattler.install(
            records,
            target_prefix=req["prefix"],
            cache_dir=cache / "pkgs",
            execute_link_scripts=False,
            show_progress=False,
        )
    except Exception as exc:  # noqa: BLE001 - reported to the parent as an answer
        return {
            "error": "build",
            "message": f"installing the conda packages failed: {type(exc).__name__}: {exc}",
            "hint": "check free disk space and that the package cache is writable",
        }
    return {"records": sorted((_record_dict(r) for r in records), key=lambda d: d["name"])}


async def _index(req: dict[str, Any]) -> dict[str, Any]:
    from rattler.index import index_fs

    try:
        await index_fs(Path(req["channel_dir"]), force=True)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as an answer
        return {"error": "build", "message": f"indexing the local channel failed: {exc}"}
    return {}


def _child(req_path: str, resp_path: str) -> None:
    import asyncio

    req = json.loads(Path(req_path).read_text(encoding="utf-8"))
    try:
        if req["op"] == "solve":
            answer = asyncio.run(_solve(req))
        elif req["op"] == "install":
            answer = asyncio.run(_install(req))
        elif req["op"] == "index":
            answer = asyncio.run(_index(req))
        else:
            answer = {"error": "internal", "message": f"unknown rattler op {req['op']!r}"}
    except BaseException as exc:  # noqa: BLE001 - the answer file is the only channel back
        import traceback

        traceback.print_exc()  # into the build log, through the parent's capture
        answer = {"error": "internal", "message": f"internal error in the rattler child: "
                  f"{type(exc).__name__}: {exc}"}  # fmt: skip
    Path(resp_path).write_text(json.dumps(answer), encoding="utf-8")


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown: see the module docstring
