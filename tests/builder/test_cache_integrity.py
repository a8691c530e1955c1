"""A damaged build cache entry is never served (issue 17, item 3): each damage an operator
meets (a flipped byte, a file cut in half, garbage JSON, deleted or changed files of a
cached layer) is found before use, reported on one ``warning:`` line, dropped and rebuilt,
and the archive is byte-identical to the clean build's; the next build is a clean hit."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pkgtool.builder.cache import STAGING_ROOT

pytestmark = pytest.mark.slow


def _spec(channel: str) -> dict[str, Any]:
    return {
        "format": 1,
        "conda": {"channels": [channel], "dependencies": ["python", {"pip": ["pyyaml"]}]},
        "analysis": {
            "entry_points": ["job.py"],
            "imports": [
                {"module": "yaml", "distribution": None, "version": None, "installer": "pip",
                 "optional": False, "sites": ["job.py:1"]},
            ],
        },
    }  # fmt: skip


def _create(project: Path, cache: Path, out: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pkgtool", "create", "--cache-dir", str(cache), *extra,
         "deps.json", out],
        cwd=project, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, local_channel: Any) -> dict[str, Any]:
    """A project, a clean build of it and that build's cache (never changed by the tests:
    each test damages a hard-linked copy, replacing files instead of writing into them)."""
    project = tmp_path_factory.mktemp("integrity")
    (project / "job.py").write_text("import yaml\nprint(yaml.safe_dump({'a': 1}))\n")
    (project / "deps.json").write_text(json.dumps(_spec(local_channel.url)))
    cache = tmp_path_factory.mktemp("integrity-cache") / "cache"
    proc = _create(project, cache, "clean.tar.gz")
    assert proc.returncode == 0, proc.stderr
    return {"project": project, "cache": cache, "sha256": _sha256(project / "clean.tar.gz")}


def _replace(path: Path, data: bytes) -> None:
    """Put ``data`` at ``path`` by a new file (the pristine cache shares the old inode)."""
    tmp = path.with_name(path.name + ".damage")
    tmp.write_bytes(data)
    tmp.replace(path)


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    _replace(path, bytes(data))


def _halve(path: Path) -> None:
    data = path.read_bytes()
    _replace(path, data[: len(data) // 2])


def _one(cache: Path, pattern: str) -> Path:
    found = sorted(cache.glob(pattern))
    assert found, f"nothing matches {pattern} in the cache"
    return found[0]


def _drop_archives(cache: Path) -> None:
    """Remove the packed environment layers, so the next build packs (and reads the parts
    and layers below them) as a build with another pip requirement would."""
    subprocess.run(["rm", "-rf", str(cache / "archives")], check=True)


def _delete_half_of_the_stdlib(cache: Path) -> None:
    sources = sorted(cache.glob("layers/conda-*/prefix/lib/python3.*/*.py"))
    assert len(sources) > 20
    for path in sources[::2]:
        path.unlink()


def _garble_resolutions(cache: Path) -> None:
    for path in sorted(cache.glob("resolutions/*.json")):
        _replace(path, b'{"format": 2}')


DAMAGE: dict[str, tuple[Callable[[Path], None], bool]] = {
    "env-layer-flipped-byte": (lambda c: _flip(_one(c, "archives/*/env.tar.gz")), False),
    "env-layer-cut-in-half": (lambda c: _halve(_one(c, "archives/*/env.tar.gz")), False),
    "conda-layer-part-flipped-byte": (lambda c: _flip(_one(c, "layers/*/parts/*.part")), True),
    "pip-part-cut-in-half": (lambda c: _halve(_one(c, "pip-dists/*/parts/*.part")), True),
    "lock-json-garbage": (lambda c: _replace(_one(c, "archives/*/lock.json"), b"{gar"), False),
    "env-json-garbage": (lambda c: _replace(_one(c, "archives/*/env.json"), b"[]"), False),
    "manifest-json-garbage": (
        lambda c: _replace(_one(c, "archives/*/manifest.json"), b"\x00garbage"),
        False,
    ),
    "layer-stdlib-half-deleted": (_delete_half_of_the_stdlib, True),
    "layer-pyc-flipped-byte": (lambda c: _flip(_one(c, "layers/*/prefix/**/*.pyc")), True),
    "pip-pyc-flipped-byte": (lambda c: _flip(_one(c, "pip-dists/*/bytecode/**/*.pyc")), True),
    "layer-meta-garbage": (lambda c: _replace(_one(c, "layers/*/meta.json"), b"{}"), True),
    "resolutions-garbage": (_garble_resolutions, False),
}
WARNINGS = {"resolutions-garbage": 2}  # the lock's and its conda part's; else one


@pytest.mark.parametrize(
    ("kind", "refresh"),
    [*((k, False) for k in sorted(DAMAGE)), ("env-layer-flipped-byte", True)],
)
def test_damaged_entry_is_dropped_and_rebuilt(
    pristine: dict[str, Any], tmp_path: Path, kind: str, refresh: bool
) -> None:
    cache = tmp_path / "cache"
    subprocess.run(["cp", "-al", str(pristine["cache"]), str(cache)], check=True)
    damage, drop_archives = DAMAGE[kind]
    if drop_archives:
        _drop_archives(cache)
    damage(cache)
    project: Path = pristine["project"]
    out = tmp_path / "out.tar.gz"
    proc = _create(project, cache, str(out), *(["--refresh"] if refresh else []))
    assert proc.returncode == 0, proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == WARNINGS.get(kind, 1), proc.stderr
    assert "damaged" in warnings[0] or "again" in warnings[0], warnings
    if kind != "resolutions-garbage":  # the archive entry is intact: a hit once resolved
        assert "from the build cache" not in proc.stderr
    assert _sha256(out) == pristine["sha256"], "the rebuilt archive differs from a clean build"
    assert json.loads(lock_of(out)) == json.loads(lock_of(project / "clean.tar.gz"))
    again = _create(project, cache, str(tmp_path / "again.tar.gz"))
    assert again.returncode == 0, again.stderr
    assert "warning:" not in again.stderr, "the rebuilt entry is damaged again"
    assert "from the build cache" in again.stderr
    assert _sha256(tmp_path / "again.tar.gz") == pristine["sha256"]


def lock_of(archive: Path) -> str:
    return archive.with_name(archive.name.removesuffix(".tar.gz") + ".lock.json").read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs")
def test_a_build_cache_on_tmpfs_gives_the_same_bytes(
    pristine: dict[str, Any], tmp_path: Path
) -> None:
    """Issue 17, item 8: with the build cache on a tmpfs and the staging prefix on disk,
    rattler copies instead of hard-linking (conda-meta's ``link.type`` 3, not 1): the
    archive is still the bytes of the build whose cache shares the staging filesystem."""
    staging_dev = os.stat(STAGING_ROOT).st_dev
    if os.stat(pristine["cache"]).st_dev != staging_dev:
        pytest.skip("the clean build's cache is not on the staging prefix's filesystem")
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2g", "tmpfs", str(mount)], check=True)
    try:
        assert os.stat(mount).st_dev != staging_dev
        out = tmp_path / "tmpfs.tar.gz"
        proc = _create(pristine["project"], mount / "cache", str(out))
        assert proc.returncode == 0, proc.stderr
        with tarfile.open(out) as tar:
            names = [n for n in tar.getnames() if n.startswith("conda-meta/python-")]
            member = tar.extractfile(names[0])
            assert member is not None
            record = json.load(member)
        assert record["link"]["type"] == 1
        assert _sha256(out) == pristine["sha256"], "the tmpfs cache changed the archive"
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


KILL_AT_WRITE = r"""
import os, runpy, signal, sys
def hook(event, args):
    if event == "open" and str(args[0]).endswith(".part") and "w" in str(args[1]):
        os.kill(os.getpid(), signal.SIGKILL)  # while OUT is being written
sys.addaudithook(hook)
sys.argv = ["pkg", *sys.argv[1:]]
runpy.run_module("pkgtool", run_name="__main__")
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to play a second user (uid 65534)")
def test_parts_of_a_killed_create_are_removed_by_the_next(
    pristine: dict[str, Any], tmp_path: Path
) -> None:
    """Problem 10: SIGKILL while OUT is written leaves ``.out.tar.gz.*.part`` files; the next
    build removes them, but never a live writer's part, another user's, or another name's."""
    cache, outdir = tmp_path / "cache", tmp_path / "out"
    outdir.mkdir()
    subprocess.run(["cp", "-al", str(pristine["cache"]), str(cache)], check=True)
    killed = subprocess.run(
        [sys.executable, "-c", KILL_AT_WRITE, "create", "--cache-dir", str(cache),
         "deps.json", str(outdir / "out.tar.gz")],
        cwd=pristine["project"], capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stderr
    stale = sorted(p.name for p in outdir.iterdir())
    assert {n.split(".pkgtool.")[0] for n in stale} == {".out.tar.gz", ".out.lock.json"}, stale
    assert all(n.endswith(".part") for n in stale)
    host = stale[0].split("@")[1].split(".")[0]
    live = outdir / f".out.tar.gz.pkgtool.{os.getpid()}@{host}.abc123.part"  # this process
    hers = outdir / f".out.tar.gz.pkgtool.999999999@{host}.zzz999.part"
    other = outdir / f".other.tar.gz.pkgtool.999999999@{host}.zzz999.part"
    for path in (live, hers, other):
        path.write_bytes(b"x")
    os.chown(hers, 65534, 65534)
    proc = _create(pristine["project"], cache, str(outdir / "out.tar.gz"))
    assert proc.returncode == 0, proc.stderr
    left = sorted(p.name for p in outdir.iterdir())
    assert left == sorted([live.name, hers.name, other.name, "out.lock.json", "out.tar.gz"])
    assert _sha256(outdir / "out.tar.gz") == pristine["sha256"]
