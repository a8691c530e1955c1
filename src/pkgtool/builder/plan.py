"""Stage 1, plan: what to resolve, from where (spec + options -> :class:`Plan`).

The plan holds the channels as the lock names them, the conda MatchSpecs and the pip
requirements, and, with ``--local-python``, the local channel built on this machine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pkgtool.builder import localpython
from pkgtool.builder.lock import LOCAL_PYTHON_CHANNEL, CondaPackage, Lock
from pkgtool.errors import InputError, ResolutionError
from pkgtool.names import is_conda_only
from pkgtool.spec import Spec, matchspec_name


@dataclass(frozen=True)
class LocalChannel:
    """The ``--local-python`` channel of this machine: its ``file://`` ``url`` and the
    sha256 of each package in it (``{"linux-64/python-....conda": sha256}``)."""

    url: str
    interpreter: Path
    packages: Mapping[str, str]

    @classmethod
    def from_url(cls, url: str, interpreter: Path) -> LocalChannel:
        root = Path(url2pathname(urlparse(url).path))
        packages: dict[str, str] = {}
        for repodata in sorted(root.glob("*/repodata.json")):
            data = json.loads(repodata.read_text(encoding="utf-8"))
            for section in ("packages", "packages.conda"):
                for filename, record in (data.get(section) or {}).items():
                    packages[f"{repodata.parent.name}/{filename}"] = str(record.get("sha256"))
        return cls(url, interpreter, packages)


@dataclass(frozen=True)
class Plan:
    """What to resolve: ``channels`` as the lock names them (``local-python`` for the local
    channel), ``conda_specs`` (MatchSpecs; python always among them), ``pip_requirements``
    (PEP 508), the ``local`` channel with ``--local-python``, and ``pip_constraints``
    (PEP 508, a requirements file's ``-c``: they limit the pip resolution, add nothing)."""

    channels: tuple[str, ...]
    conda_specs: tuple[str, ...]
    pip_requirements: tuple[str, ...]
    local: LocalChannel | None = None
    pip_constraints: tuple[str, ...] = ()

    def channel_urls(self, names: tuple[str, ...] | None = None) -> list[str]:
        """The channels to give rattler: ``local-python`` replaced by the local URL."""
        out = []
        for name in names if names is not None else self.channels:
            if name == LOCAL_PYTHON_CHANNEL:
                if self.local is None:
                    raise ResolutionError(
                        "the lock takes python from a local interpreter (channel local-python)",
                        hint="pass --local-python with the interpreter the lock was made with",
                    )
                out.append(self.local.url)
            else:
                out.append(name)
        return out

    def lock_entry(self, record: Mapping[str, object]) -> CondaPackage:
        """The lock entry of a rattler record; a local channel URL becomes ``local-python/``."""
        url = str(record["url"])
        if self.local is not None and url.startswith(self.local.url.rstrip("/") + "/"):
            url = LOCAL_PYTHON_CHANNEL + url[len(self.local.url.rstrip("/")) :]
        return CondaPackage(
            name=str(record["name"]),
            version=str(record["version"]),
            build=str(record["build"]),
            subdir=str(record["subdir"]),
            url=url,
            sha256=str(record["sha256"]),
        )

    def package_url(self, package: CondaPackage) -> str:
        """Where rattler finds ``package`` on this machine."""
        if not package.is_local_python:
            return package.url
        return (
            self.channel_urls((LOCAL_PYTHON_CHANNEL,))[0].rstrip("/")
            + package.url[len(LOCAL_PYTHON_CHANNEL) :]
        )

    def check_lock(self, lock: Lock) -> None:
        """Check that the local channel holds the lock's local-python packages, byte for byte.

        Raises:
            ResolutionError: no ``--local-python`` for a lock that needs one, or its
                interpreter packs to other bytes (the message names both).
        """
        for package in lock.conda:
            if not package.is_local_python:
                continue
            self.channel_urls((LOCAL_PYTHON_CHANNEL,))  # raises without --local-python
            assert self.local is not None
            key = package.url[len(LOCAL_PYTHON_CHANNEL) + 1 :]
            have = self.local.packages.get(key)
            if have != package.sha256:
                found = [k for k in self.local.packages if k.split("/")[-1].startswith("python-")]
                raise ResolutionError(
                    f"the lock's {package.filename} (sha256 {package.sha256[:12]}) is not what "
                    f"--local-python {self.local.interpreter} gives ("
                    + (f"sha256 {have[:12]}" if have else f"{', '.join(found) or 'nothing'}")
                    + ")",
                    hint="pass the interpreter build the lock was made with, "
                    "or make a new lock with `pkg lock`",
                )


def make_plan(
    spec: Spec,
    *,
    channels: tuple[str, ...],
    local_python: Path | None,
    include_optional: bool,
    cache_dir: Path,
    pip_version: str | None = None,
) -> Plan:
    """The plan for ``spec``. ``channels`` replace the spec's; with ``local_python``, python
    comes from that interpreter (a local channel cached under ``cache_dir``, with pip
    ``pip_version`` when rebuilding a lock) and, unless
    ``channels`` are given, the other conda dependencies become pip requirements.

    Raises:
        InputError: a MatchSpec names a channel (``channel::name``) the build does not use.
        InterpreterError: the interpreter cannot be made relocatable.
        ResolutionError: pip's wheel for the local channel cannot be downloaded.
    """
    check_explicit_channels(
        spec.dependencies, () if local_python and not channels else channels or spec.channels
    )
    conda_specs = list(spec.dependencies)
    pip_reqs = list(spec.pip) + (_optional_requirements(spec) if include_optional else [])
    if not any(matchspec_name(s) == "python" for s in conda_specs):
        conda_specs.insert(0, "python")
    if local_python is None:
        return Plan(tuple(channels or spec.channels), tuple(conda_specs), tuple(pip_reqs),
                    None, spec.pip_constraints)  # fmt: skip
    if not channels:
        _check_conda_only(conda_specs)
    url = localpython.local_python_channel(local_python, cache_dir, pip_version)
    local = LocalChannel.from_url(url, local_python)
    if channels:
        return Plan((LOCAL_PYTHON_CHANNEL, *channels), tuple(conda_specs), tuple(pip_reqs), local,
                    spec.pip_constraints)  # fmt: skip
    keep = [s for s in conda_specs if matchspec_name(s) in ("python", "pip")]
    moved = [localpython.conda_to_pip(s) for s in conda_specs if s not in keep]
    return Plan((LOCAL_PYTHON_CHANNEL,), tuple(keep), tuple(moved + pip_reqs), local,
                spec.pip_constraints)  # fmt: skip


def _check_conda_only(specs: Sequence[str]) -> None:
    """Under ``--local-python`` alone conda dependencies come from the package index; refuse
    (exit 4, before any work) one that is no PyPI distribution rather than install a PyPI
    project that only shares its name (``cdo``) or fail on the index (``r-base``)."""
    for dep in specs:
        name = matchspec_name(dep)
        if name not in ("python", "pip") and is_conda_only(name):
            raise ResolutionError(
                f"{name} is a conda package; pass --channel with a channel that has it",
                hint="with --local-python alone, conda dependencies are taken from the package "
                f"index, which has no {name} (a PyPI project of that name is another one)",
            )


_SUBDIRS = ("noarch", "linux-64", "linux-aarch64", "linux-ppc64le", "osx-64", "osx-arm64",
            "win-64")  # fmt: skip


def check_explicit_channels(specs: Sequence[str], channels: Sequence[str]) -> None:
    """Raise InputError for the first MatchSpec whose explicit channel (``channel::name``,
    ``channel/subdir::name``) is not one of ``channels``, the channels the build uses
    (none under ``--local-python`` alone, where conda packages come from the package
    index): such a spec would be resolved elsewhere than it says."""
    for dep in specs:
        if "::" not in dep:
            continue
        wanted = dep.split("::", 1)[0].rstrip("/")
        head, _, last = wanted.rpartition("/")
        if head and last in _SUBDIRS:
            wanted = head
        if not any(_same_channel(wanted, c) for c in channels):
            used = ", ".join(channels) or "none: with --local-python they come from the index"
            raise InputError(
                f"MatchSpec {dep!r} names channel {wanted}, which this build does not use "
                f"(conda channels: {used})",
                hint="drop the channel:: prefix, or build with --channel for that channel",
            )


def _same_channel(wanted: str, channel: str) -> bool:
    channel = channel.rstrip("/")
    if wanted == channel:
        return True
    is_name = "/" not in wanted and ":" not in wanted
    return is_name and channel.rsplit("/", 1)[-1] == wanted


def _optional_requirements(spec: Spec) -> list[str]:
    """pip requirements for the spec's optional third-party imports (``--include-optional``),
    pinned to the version the analyser saw installed, skipping those already required."""
    present = {_req_name(r) for r in spec.pip} | {matchspec_name(d) for d in spec.dependencies}
    out: dict[str, str] = {}
    for record in spec.analysis.imports if spec.analysis else ():
        dist = record.distribution
        if not record.optional or not dist or record.installer == "local":
            continue
        if _req_name(dist) in present:
            continue
        out[_req_name(dist)] = f"{dist}=={record.version}" if record.version else dist
    return [out[k] for k in sorted(out)]


def _req_name(requirement: str) -> str:
    return canonicalize_name(Requirement(requirement).name)
