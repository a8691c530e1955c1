"""Bundle the spec's local code into the environment's site-packages.

``code.include`` and ``code.exclude`` are gitignore-style patterns (pathspec's
``GitIgnoreSpec``) relative to ``code.root``, itself relative to the spec file's directory.
Each matched file is copied to ``<site-packages>/<path relative to root>``, so
``import helpers`` works on the node from any working directory.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pathspec

from pkgtool.errors import BuildError, InputError
from pkgtool.spec import CodeSection

_HINT = "fix the spec's 'code' section: patterns are relative to code.root"


def select_files(code: CodeSection, spec_dir: Path) -> list[str]:
    """Relative posix paths of the files ``code`` selects under its root, sorted.

    Raises:
        InputError: the root is missing, or an include pattern matches no file.
    """
    root = (spec_dir / code.root).resolve()
    if not root.is_dir():
        raise InputError(f"code root {code.root!r} is not a directory ({root})", hint=_HINT)
    files = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    excluded = pathspec.GitIgnoreSpec.from_lines(code.exclude)
    chosen: set[str] = set()
    for pattern in code.include:
        matches = pathspec.GitIgnoreSpec.from_lines([pattern]).match_files(files)
        hits = [m for m in matches if not excluded.match_file(m)]
        if not hits:
            raise InputError(
                f"code.include pattern {pattern!r} matches no file under {code.root!r}",
                hint=_HINT,
            )
        chosen.update(hits)
    return sorted(chosen)


def bundle_code(sections: Sequence[CodeSection], spec_dir: Path, site_packages: Path) -> list[str]:
    """Copy each section's files into ``site_packages`` (paths relative to the section's
    root); return the relative paths, sorted.

    Raises:
        InputError: see :func:`select_files`.
        BuildError: a bundled file would replace a file an installed package owns, or two
            sections bundle the same relative path.
    """
    plan: dict[str, Path] = {}
    for section in sections:
        root = (spec_dir / section.root).resolve()
        for rel in select_files(section, spec_dir):
            if rel in plan and plan[rel] != root / rel:
                raise BuildError(
                    f"two code roots both provide {rel}: {plan[rel]} and {root / rel}",
                    hint="rename one of the modules or drop one root from the spec",
                )
            plan[rel] = root / rel
            if (site_packages / rel).exists():
                raise BuildError(
                    f"local file {rel} would replace a file of an installed package",
                    hint="rename the local module or drop the package from the spec",
                )
    for rel, source in plan.items():
        target = site_packages / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return sorted(plan)
