"""Materialize a corpus whose cases name third-party code at a pinned commit.

    python3 bench/fetch_corpus.py [--corpus bench/corpus-heldout] [--mirrors DIR] [--clean]

A case's ``case.toml`` may carry a ``[source]`` table::

    [source]
    repo = "pytorch/examples"                              # GitHub owner/name
    commit = "77f55b912142e11fcfdf5b530231fb9c52f181e8"    # pinned: 40 hex digits
    path = "mnist"                                         # folder in the repository ("" = root)

The files under ``path`` at ``commit`` are copied into the case folder (``path`` stripped), so
the case's ``inputs`` are relative to that folder, as for hand-written cases. Third-party
code is never committed: the corpus's ``.gitignore`` keeps only ``case.toml``.

Files that would give a tool the answer or that a user would not hand to the analyzer are
left out of the copy (:data:`EXCLUDE`): dependency declarations (``requirements*.txt``,
``environment*.yml``, ``Pipfile*``, ``constraints*.txt``), test modules (``*_test.py``,
``test_*.py``, ``conftest.py``) and CI/containers files (``noxfile*.py``, ``Dockerfile*``).

Repositories come from ``--mirrors DIR`` when it holds ``DIR/<owner>+<name>/repo`` (a bare
git directory holding the commit), else from a blobless clone of
``https://github.com/<owner>/<name>`` cached under ``bench/.cache/repos``.
"""

from __future__ import annotations

import argparse
import fnmatch
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

HERE = Path(__file__).resolve().parent
REPOS = HERE / ".cache" / "repos"
EXCLUDE = (
    "requirements*.txt", "constraints*.txt", "environment*.yml", "environment*.yaml",
    "Pipfile", "Pipfile.lock", "*_test.py", "test_*.py", "conftest.py", "noxfile*.py",
    "Dockerfile*",
)  # fmt: skip
"""Base-name globs of files never copied into a case."""
MAX_BYTES = 2_000_000
"""Files larger than this (bytes) are data, not code, and are not copied."""


@dataclass(frozen=True)
class Source:
    """Where a case's inputs come from: ``repo`` is ``owner/name``, ``commit`` 40 hex digits,
    ``path`` a folder of the repository ("" for its root)."""

    repo: str
    commit: str
    path: str

    @classmethod
    def from_case(cls, case_toml: Path) -> Source | None:
        """The ``[source]`` table of ``case_toml``, or None for a hand-written case."""
        table = tomllib.loads(case_toml.read_text(encoding="utf-8")).get("source")
        if table is None:
            return None
        commit = str(table["commit"])
        if len(commit) != 40:
            raise ValueError(f"{case_toml}: commit must be pinned (40 hex digits)")
        return cls(str(table["repo"]), commit, str(table.get("path", "")).strip("/"))


def git_dir(repo: str, mirrors: Path | None) -> Path:
    """A git directory holding ``repo``'s history: a mirror, else a cached blobless clone."""
    if mirrors is not None:
        mirror = mirrors / repo.replace("/", "+") / "repo"
        if mirror.is_dir():
            return mirror
    clone = REPOS / repo.replace("/", "+")
    if not clone.is_dir():
        url = f"https://github.com/{repo}"
        cmd = ["git", "clone", "--quiet", "--bare", "--filter=blob:none", url, str(clone)]
        subprocess.run(cmd, check=True)
    return clone


def excluded(name: str) -> bool:
    """Whether a file's base name matches one of :data:`EXCLUDE`."""
    return any(fnmatch.fnmatch(name, pattern) for pattern in EXCLUDE)


def materialize(source: Source, target: Path, mirrors: Path | None) -> tuple[int, int]:
    """Copy ``source`` into ``target`` (keeping ``case.toml``); return (files copied, files
    skipped). Blobs larger than :data:`MAX_BYTES` (data sets, weights) or absent from a
    partial clone are skipped: analysis never reads them."""
    git = git_dir(source.repo, mirrors)
    cmd = ["git", "--git-dir", str(git), "ls-tree", "-r", "-l", "-z", source.commit]
    if source.path:
        cmd += ["--", source.path + "/"]
    listing = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    for child in target.iterdir():
        if child.name != "case.toml":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    copied = skipped = 0
    prefix = PurePosixPath(source.path) if source.path else None
    for entry in filter(None, listing.split("\0")):
        meta, name = entry.split("\t", 1)
        _mode, kind, sha, size = meta.split()
        rel = PurePosixPath(name)
        if prefix is not None:
            rel = rel.relative_to(prefix)
        if kind != "blob" or excluded(rel.name) or rel.name == "case.toml":
            continue
        if not size.isdigit() or int(size) > MAX_BYTES:
            skipped += 1
            continue
        blob = subprocess.run(["git", "--git-dir", str(git), "cat-file", "blob", sha],
                              capture_output=True)  # fmt: skip
        if blob.returncode != 0:
            skipped += 1
            continue
        dest = target.joinpath(*rel.parts)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(blob.stdout)
        copied += 1
    return copied, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus-heldout")
    parser.add_argument("--mirrors", type=Path, help="folder of <owner>+<name>/repo git dirs")
    args = parser.parse_args(argv)
    for case_toml in sorted(args.corpus.glob("*/case.toml")):
        source = Source.from_case(case_toml)
        if source is None:
            continue
        copied, skipped = materialize(source, case_toml.parent, args.mirrors)
        where = f"{source.repo}@{source.commit[:10]}"
        print(f"{case_toml.parent.name}: {copied} files from {where} ({skipped} data skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
