"""The lock: every conda package and pip distribution of a built environment.

JSON, format 1::

    {
      "format": 1,
      "platform": "linux-64",
      "channels": ["file:///..."],
      "conda": [{"name", "version", "build", "subdir", "url", "sha256"}, ...],
      "pip": [{"name", "version", "url", "filename", "sha256"}, ...]
    }

``pkg create --lock FILE`` installs exactly these packages: the conda ones by URL from the
lock's channels, the pip ones by URL with ``--require-hashes``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pkgtool.errors import InputError

FORMAT = 1
_CONDA_KEYS = ("name", "version", "build", "subdir", "url", "sha256")
_PIP_KEYS = ("name", "version", "url", "filename", "sha256")


@dataclass(frozen=True)
class Lock:
    """A lock as read from or written to JSON; entries keep the keys listed above."""

    platform: str
    channels: tuple[str, ...]
    conda: tuple[dict[str, Any], ...]
    pip: tuple[dict[str, Any], ...]

    @classmethod
    def from_records(
        cls,
        platform: str,
        channels: Sequence[str],
        conda: Sequence[dict[str, Any]],
        pip: Sequence[dict[str, Any]],
    ) -> Lock:
        """Keep only the lock's keys of rattler records / pip report entries, sorted by name."""
        return cls(
            platform,
            tuple(channels),
            tuple(sorted(({k: r.get(k) for k in _CONDA_KEYS} for r in conda), key=_name)),
            tuple(sorted(({k: r.get(k) for k in _PIP_KEYS} for r in pip), key=_name)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "platform": self.platform,
            "channels": list(self.channels),
            "conda": list(self.conda),
            "pip": list(self.pip),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def load(cls, path: Path) -> Lock:
        """Read a lock file.

        Raises:
            InputError: unreadable file, invalid JSON, or entries missing required keys.
        """
        hint = "pass the .lock.json file that `pkg create` wrote beside an archive"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read lock {path}: {exc}", hint=hint) from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError(f"{path}: not a pkgtool lock of format {FORMAT}", hint=hint)
        for section, keys in (("conda", _CONDA_KEYS), ("pip", _PIP_KEYS)):
            for i, entry in enumerate(data.get(section, [])):
                missing = [k for k in keys if k not in entry]
                if missing:
                    raise InputError(f"{path}: {section}[{i}] lacks {missing[0]!r}", hint=hint)
        return cls(
            str(data.get("platform", "")),
            tuple(data.get("channels", [])),
            tuple(data.get("conda", [])),
            tuple(data.get("pip", [])),
        )


def _name(entry: dict[str, Any]) -> str:
    return str(entry.get("name", "")).lower()


def lock_path_for(archive: Path) -> Path:
    """Where the lock of ``archive`` goes: ``env.tar.gz`` -> ``env.lock.json`` beside it."""
    from pkgtool.builder._pack import ARCHIVE_SUFFIXES

    name = archive.name
    for suffix in ARCHIVE_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return archive.with_name(name + ".lock.json")
