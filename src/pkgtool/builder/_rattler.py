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
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pkgtool.errors import BuildError, ResolutionError

_MODULE = "pkgtool.builder._rattler"


def solve_and_install(
    channels: Sequence[str],
    specs: Sequence[str],
    prefix: Path,
    cache_dir: Path,
    locked_urls: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Solve ``specs`` against ``channels`` for this machine's subdir and install into ``prefix``.

    ``channels`` are names (``conda-forge``) or URLs (``file:///srv/channel``). With
    ``locked_urls``, no solve happens: exactly the records with those URLs are installed.
    ``cache_dir`` holds rattler's repodata and package caches (``repodata/``, ``pkgs/``);
    conda-pack reads package files from ``pkgs/``, so keep it until packing is done.

    Returns the installed records (dicts, see module docstring), sorted by name.

    Raises:
        ResolutionError: unsatisfiable specs, a package not found, a channel unreachable.
        BuildError: the download or the install failed.
    """
    request = {
        "op": "solve_install",
        "channels": list(channels),
        "specs": list(specs),
        "prefix": str(prefix),
        "cache_dir": str(cache_dir),
        "locked_urls": list(locked_urls) if locked_urls is not None else None,
    }
    answer = _call(request)
    records: list[dict[str, Any]] = answer["records"]
    return records


def index_channel(channel_dir: Path) -> None:
    """Write ``repodata.json`` for every subdir of the local channel at ``channel_dir``.

    Raises:
        BuildError: indexing failed.
    """
    _call({"op": "index", "channel_dir": str(channel_dir)})


def _call(request: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pkgtool-rattler-") as tmp:
        req = Path(tmp, "request.json")
        resp = Path(tmp, "response.json")
        req.write_text(json.dumps(request), encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, "-m", _MODULE, str(req), str(resp)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            answer: dict[str, Any] = json.loads(resp.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise BuildError(
                f"rattler {request['op']} stopped without an answer (exit {proc.returncode})"
                + (f": {' / '.join(tail)}" if tail else ""),
                hint="run again with --debug; if it persists, report it with the spec",
            ) from None
    kind = answer.get("error")
    if kind == "resolution":
        raise ResolutionError(answer["message"], hint=answer.get("hint"))
    if kind is not None:
        raise BuildError(answer["message"], hint=answer.get("hint"))
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


async def _solve_install(req: dict[str, Any]) -> dict[str, Any]:
    import rattler
    from rattler.exceptions import SolverError

    cache = Path(req["cache_dir"])
    gateway = rattler.Gateway(cache_dir=cache / "repodata")
    channels = [rattler.Channel(c) for c in req["channels"]]
    subdirs = [rattler.Subdir.current(), rattler.Subdir("noarch")]
    specs = req["specs"]
    try:
        if req["locked_urls"] is not None:
            wanted = set(req["locked_urls"])
            names = sorted({s.split()[0] for s in specs})
            found = await gateway.query(channels, subdirs, names, recursive=False)
            records = [r for per in found for r in per if str(r.url) in wanted]
            missing = wanted - {str(r.url) for r in records}
            if missing:
                return {
                    "error": "resolution",
                    "message": f"locked package not found in the channels: {sorted(missing)[0]}",
                    "hint": _channel_hint(req["channels"]),
                }
            records = list({str(r.url): r for r in records}.values())
        else:
            records = await rattler.solve(
                sources=channels,
                specs=specs,
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
        return _unreachable(exc, req["channels"]) or {
            "error": "resolution",
            "message": f"cannot read the channels: {type(exc).__name__}: {exc}",
            "hint": _channel_hint(req["channels"]),
        }
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
        if req["op"] == "solve_install":
            answer = asyncio.run(_solve_install(req))
        elif req["op"] == "index":
            answer = asyncio.run(_index(req))
        else:
            answer = {"error": "build", "message": f"unknown rattler op {req['op']!r}"}
    except BaseException as exc:  # noqa: BLE001 - the answer file is the only channel back
        answer = {"error": "build", "message": f"rattler failed: {type(exc).__name__}: {exc}"}
    Path(resp_path).write_text(json.dumps(answer), encoding="utf-8")


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown: see the module docstring
