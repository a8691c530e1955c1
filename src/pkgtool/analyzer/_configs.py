"""Imports named by dotted path in the configuration files a script loads.

Hydra (hydra.cc, "Instantiating objects with Hydra") builds objects from YAML::

    model:
      _target_: src.models.mnist_module.MNISTLitModule

``hydra.utils.instantiate(cfg.model)`` imports ``src.models.mnist_module`` and calls
``MNISTLitModule``: the module is an import of the script as surely as an ``import``
statement. The configuration a script loads is named in its code:
``@hydra.main(config_path="../configs", config_name="train")`` (or
``initialize(config_path=...)`` with ``compose(config_name=...)``), relative to the
script's file. Every ``_target_: a.b.C`` value in the ``*.yaml``/``*.yml`` files below
that directory is an import site ``from a.b import C``.

Which of them run: the *primary* config (``config_name``) and the options its
``defaults`` list selects, recursively (hydra.cc, "The Defaults List": ``- group:
option`` loads ``<group>/<option>.yaml``, relative to the group of the config that
lists it unless it starts with ``/``; ``- name`` loads ``name.yaml`` of the same
group; ``null`` and ``_self_`` load nothing; ``optional`` and ``override`` are
prefixes). A ``_target_`` in any other file is a config group option selected only from
the command line (``python train.py logger=wandb``): its import is optional. Without a
``config_name`` every file counts as selected.

Files are read through ``read`` and directories listed through ``listdir`` (the
analyzer's readers), so the result cache knows what the answer depends on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pkgtool.analyzer._scan import ImportSite

_CONFIG_PATH = re.compile(rb"""\bconfig_path\s*=\s*(?:f?["']([^"'\n]*)["'])""")
_CONFIG_NAME = re.compile(rb"""\bconfig_name\s*=\s*(?:f?["']([^"'\n]*)["'])""")
_TARGET = re.compile(
    r"""^\s*(?:-\s+)?_target_\s*:\s*["']?([A-Za-z_][\w.]*\.[A-Za-z_]\w*)["']?\s*(?:#.*)?$"""
)
_DEFAULT = re.compile(
    r"""^\s+-\s+(?:optional\s+|override\s+)*([\w/.@-]+)\s*(?::\s*([\w/.-]+|null|\[\]))?\s*(?:#.*)?$"""
)
_SUFFIXES = (".yaml", ".yml")
_SKIP = frozenset({"node_modules", "site-packages", "__pycache__", "outputs", "multirun"})


@dataclass(frozen=True)
class ConfigRef:
    """Where a script's code says its configuration is: ``directory`` (absolute) and
    ``name`` (the primary config without its suffix; None: not given)."""

    directory: Path
    name: str | None


def config_refs(source: bytes, file: Path) -> list[ConfigRef]:
    """The configuration directories ``file`` (whose bytes are ``source``) names
    (``config_path="../configs"``, relative to ``file``'s directory), each with the
    ``config_name`` given in the same file (the first one; None if none)."""
    if b"config_path" not in source:
        return []
    names = [m.group(1).decode("utf-8", "replace") for m in _CONFIG_NAME.finditer(source)]
    name = names[0] if names else None
    if name is not None:
        name = name.removesuffix(".yaml").removesuffix(".yml") or None
    refs: list[ConfigRef] = []
    for match in _CONFIG_PATH.finditer(source):
        path = match.group(1).decode("utf-8", "replace")
        if not path or path.startswith("pkg://") or "{" in path:
            continue
        directory = Path(path) if path.startswith("/") else file.parent / path
        refs.append(ConfigRef(Path(_normalize(directory)), name))
    return refs


def _normalize(path: Path) -> str:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if len(parts) > 1:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return str(Path(*parts)) if parts else str(path)


def config_sites(
    ref: ConfigRef,
    read: Callable[[Path], bytes],
    listdir: Callable[[Path], Mapping[str, str]],
) -> list[tuple[Path, ImportSite]]:
    """``(yaml file, site)`` for every ``_target_`` under ``ref.directory`` (sorted by
    file, then line); a site is optional when its file is not selected by the primary
    config's defaults list (see the module docstring)."""
    files = _yaml_files(ref.directory, listdir)
    texts: dict[Path, str] = {}
    for file in files:
        try:
            texts[file] = read(file).decode("utf-8", "replace")
        except OSError:
            continue
    selected = _selected(ref, texts) if ref.name is not None else set(texts)
    sites: list[tuple[Path, ImportSite]] = []
    for file, text in texts.items():
        for number, line in enumerate(text.splitlines(), 1):
            match = _TARGET.match(line)
            if match is None:
                continue
            module, _, name = match.group(1).rpartition(".")
            site = ImportSite(module, 0, (name,), number, file not in selected, "config")
            sites.append((file, site))
    return sites


def _yaml_files(directory: Path, listdir: Callable[[Path], Mapping[str, str]]) -> list[Path]:
    """The YAML files below ``directory``, sorted; hidden directories, installed
    packages and Hydra's run output (``outputs/``, ``multirun/``) left out."""
    found: list[Path] = []
    todo = [directory]
    while todo:
        here = todo.pop()
        for name, kind in sorted(listdir(here).items()):
            if name.startswith(".") or name in _SKIP:
                continue
            if kind == "d":
                todo.append(here / name)
            elif kind == "f" and name.endswith(_SUFFIXES):
                found.append(here / name)
    return sorted(found)


def _selected(ref: ConfigRef, texts: Mapping[Path, str]) -> set[Path]:
    """The files the primary config and its defaults lists load, recursively."""
    root = ref.directory
    todo = [_find(root / (ref.name or ""), texts)]
    seen: set[Path] = set()
    while todo:
        file = todo.pop()
        if file is None or file in seen:
            continue
        seen.add(file)
        group = file.parent
        for name, option in _defaults(texts[file]):
            if name in ("_self_",) or option in ("null", "[]"):
                continue
            name = name.split("@", 1)[0]
            base = root if name.startswith("/") else group
            target = base / name.lstrip("/")
            todo.append(_find(target / option if option else target, texts))
    return seen


def _find(stem: Path, texts: Mapping[Path, str]) -> Path | None:
    for suffix in _SUFFIXES:
        candidate = stem.with_name(stem.name + suffix)
        if candidate in texts:
            return candidate
    return None


def _defaults(text: str) -> list[tuple[str, str | None]]:
    """The entries of a config's top-level ``defaults:`` list, as (name, option)."""
    found: list[tuple[str, str | None]] = []
    inside = False
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            inside = line.split("#", 1)[0].strip() == "defaults:"
            continue
        match = _DEFAULT.match(line) if inside else None
        if match is not None:
            found.append((match.group(1), match.group(2)))
    return found
