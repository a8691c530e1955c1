"""The lock: every conda package and pip distribution of an environment, typed.

JSON, format 2 (``pkg lock`` writes it; ``pkg create --lock`` reads it)::

    {
      "format": 2,
      "platform": "linux-64",
      "channels": ["conda-forge"],                     # or "local-python" (see below)
      "conda": [{"name", "version", "build", "subdir", "url", "sha256"}, ...],
      "pip": [{"name", "version", "url", "filename", "sha256"}, ...]
    }

Entries are sorted by name. A lock is portable: it never names a path of the build host
other than a ``file://`` channel the user gave (``--channel file:///site/mirror``).

- A conda package from ``--local-python`` lives in the channel named ``local-python``
  (:data:`LOCAL_PYTHON_CHANNEL`) and its ``url`` is ``local-python/<subdir>/<file name>``;
  its ``sha256`` identifies the interpreter build by content. Rebuilding from the lock needs
  ``--local-python`` with an interpreter that packs to the same sha256.
- A pip distribution found in a local directory (``file://`` find-links or index) keeps its
  ``filename`` and ``sha256`` and gets ``url: null``; pip finds it again on whatever index
  the rebuilding machine is configured with, by version and hash (``--require-hashes``).

Format 1 locks (pkgtool 0.1) are read too: the URLs of 0.1's cached local-python channel
become ``local-python/...`` and local pip files lose their URL, as above.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pkgtool._files import MAX_SPEC, read_regular
from pkgtool.errors import InputError

FORMAT = 2
LOCAL_PYTHON_CHANNEL = "local-python"
"""Channel name standing for the local channel ``--local-python`` builds on each machine."""

_HINT = "pass a lock written by `pkg lock` or by `pkg create` beside an archive"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class LockError(InputError):
    """A lock file that cannot be read or fails validation (exit 3)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, hint=_HINT)


@dataclass(frozen=True)
class CondaPackage:
    """One conda package: ``url`` is a channel URL or ``local-python/<subdir>/<file>``;
    ``sha256`` is 64 lowercase hex digits (conda package spec, repodata ``sha256``)."""

    name: str
    version: str
    build: str
    subdir: str
    url: str
    sha256: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def is_local_python(self) -> bool:
        return self.url.startswith(LOCAL_PYTHON_CHANNEL + "/")

    @classmethod
    def parse(cls, data: Mapping[str, Any], where: str) -> CondaPackage:
        """Validate one lock entry. Raises LockError naming ``where`` (``conda[3]``)."""
        fields = _strings(data, where, ("name", "version", "build", "subdir", "url", "sha256"))
        if not _SHA256.match(fields["sha256"]):
            raise LockError(f"lock {where}: sha256 is not 64 hex digits")
        return cls(**fields)


@dataclass(frozen=True)
class PipDistribution:
    """One pip distribution: ``url`` is None when it came from a local directory (pip finds
    it again by ``name==version`` and ``sha256``); ``filename`` is the wheel or sdist name."""

    name: str
    version: str
    url: str | None
    filename: str
    sha256: str

    @property
    def requirement_line(self) -> str:
        """One line of a pip requirements file installing exactly this file (pip's hash mode)."""
        target = f"{self.name} @ {self.url}" if self.url else f"{self.name}=={self.version}"
        return f"{target} --hash=sha256:{self.sha256}"

    @classmethod
    def parse(cls, data: Mapping[str, Any], where: str) -> PipDistribution:
        """Validate one lock entry. Raises LockError naming ``where`` (``pip[0]``)."""
        fields = _strings(data, where, ("name", "version", "filename", "sha256"))
        if not _SHA256.match(fields["sha256"]):
            raise LockError(f"lock {where}: sha256 is not 64 hex digits")
        url = data.get("url")
        if url is not None and not isinstance(url, str):
            raise LockError(f"lock {where}: url must be a string or null")
        if url and url.startswith("file:"):
            url = None  # a format-1 lock: the file name and hash find it again
        return cls(url=url or None, **fields)


@dataclass(frozen=True)
class Lock:
    """A lock (see the module docstring); ``conda`` and ``pip`` are sorted by name."""

    platform: str
    channels: tuple[str, ...]
    conda: tuple[CondaPackage, ...]
    pip: tuple[PipDistribution, ...]

    @classmethod
    def build(
        cls,
        platform: str,
        channels: Iterable[str],
        conda: Iterable[CondaPackage],
        pip: Iterable[PipDistribution],
    ) -> Lock:
        """A lock with entries sorted by name (the canonical order)."""
        return cls(
            platform,
            tuple(channels),
            tuple(sorted(conda, key=lambda p: p.name)),
            tuple(sorted(pip, key=lambda d: d.name.lower())),
        )

    @property
    def uses_local_python(self) -> bool:
        return any(p.is_local_python for p in self.conda)

    def with_pip(self, pip: Iterable[PipDistribution]) -> Lock:
        return Lock.build(self.platform, self.channels, self.conda, pip)

    def conda_key(self) -> str:
        """sha256 hex of the conda part (platform, package URLs and hashes): the key of the
        installed conda layer in the build cache."""
        text = json.dumps([self.platform, [(p.url, p.sha256) for p in self.conda]])
        return hashlib.sha256(text.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "platform": self.platform,
            "channels": list(self.channels),
            "conda": [_fields(p) for p in self.conda],
            "pip": [_fields(d) for d in self.pip],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def parse(cls, data: Any) -> Lock:
        """Validate a lock object (format 1 or 2).

        Raises:
            LockError: not an object, another format, or an entry failing validation.
        """
        if not isinstance(data, dict) or data.get("format") not in (1, FORMAT):
            raise LockError(f"not a pkgtool lock of format {FORMAT}")
        platform = data.get("platform")
        channels = data.get("channels", [])
        if not isinstance(platform, str) or not platform:
            raise LockError("lock lacks 'platform'")
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise LockError("lock 'channels' must be a list of strings")
        channels = [LOCAL_PYTHON_CHANNEL if _legacy_local(c) else c for c in channels]
        conda = _entries(data, "conda", CondaPackage.parse, legacy=data["format"] == 1)
        pip = _entries(data, "pip", PipDistribution.parse)
        return cls.build(platform, dict.fromkeys(channels), conda, pip)

    @classmethod
    def load(cls, path: Path) -> Lock:
        """Read and validate a lock file.

        Raises:
            LockError: unreadable file (not a regular file, or larger than
                :data:`pkgtool._files.MAX_SPEC`), invalid JSON, or an invalid lock
                (message names ``path`` and the entry).
        """
        try:
            data = json.loads(read_regular(path, MAX_SPEC).decode("utf-8"))
        except OSError as exc:
            raise LockError(f"cannot read lock {path}: {exc.strerror or exc}") from exc
        except (ValueError, RecursionError) as exc:
            raise LockError(f"cannot read lock {path}: {exc}") from exc
        try:
            return cls.parse(data)
        except LockError as exc:
            raise LockError(f"{path}: {exc.message}") from None


def _entries(data: dict[str, Any], section: str, parse: Any, legacy: bool = False) -> list[Any]:
    entries = data.get(section, [])
    if not isinstance(entries, list):
        raise LockError(f"lock '{section}' must be a list")
    out = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise LockError(f"lock {section}[{i}] is not an object")
        if legacy and _legacy_local(str(entry.get("url", ""))):
            entry = {**entry, "url": f"{LOCAL_PYTHON_CHANNEL}/{entry.get('subdir')}/"
                     + str(entry["url"]).rsplit("/", 1)[-1]}  # fmt: skip
        out.append(parse(entry, f"{section}[{i}]"))
    return out


def _legacy_local(url: str) -> bool:
    """A format-1 lock's URL of the local channel pkgtool 0.1 cached for --local-python."""
    return url.startswith("file:") and "/channels/local-python-" in url


def _strings(data: Mapping[str, Any], where: str, keys: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for key in keys:
        value = data.get(key)
        if not isinstance(value, str) or not value:
            raise LockError(f"lock {where} lacks {key!r} (a non-empty string)")
        out[key] = value
    return out


def _fields(entry: CondaPackage | PipDistribution) -> dict[str, Any]:
    return dict(entry.__dict__)


def lock_path_for(archive: Path) -> Path:
    """Where the lock of ``archive`` goes: ``env.tar.gz`` -> ``env.lock.json`` beside it."""
    from pkgtool.builder._pack import ARCHIVE_SUFFIXES

    name = archive.name
    for suffix in ARCHIVE_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return archive.with_name(name + ".lock.json")
