"""Another user of the build host never gets a file into the staging prefix, the build
cache or the archive (issue 17, item 1): a real second user (uid 65534) squats the
predictable staging path, or races the build planting ``etc/conda/activate.d/zz.sh``; the
build refuses her path (exit 5, a hint naming ``PKG_STAGING_ROOT``) or builds in a
directory she cannot write, stores nothing of a failed build, and a retry serves nothing
of hers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pkgtool.builder.cache import staging_prefix
from pkgtool.builder.lock import Lock
from pkgtool.errors import EXIT_BUILD

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to play a second user (uid 65534)"),
]

NOBODY = 65534
PLANT = "etc/conda/activate.d/zz.sh"

ATTACKER = r"""
import os, sys
prefix, stop, report, mode = sys.argv[1:5]
tries = denied = planted = seen = 0

def plant():
    global planted, denied
    try:
        os.makedirs(os.path.join(prefix, "etc/conda/activate.d"), mode=0o777, exist_ok=True)
        with open(os.path.join(prefix, "etc/conda/activate.d/zz.sh"), "w") as fh:
            fh.write("echo she ran > /dev/null\n")
        planted += 1
    except OSError:
        denied += 1

if mode == "squat":
    os.mkdir(prefix, 0o777)
    os.chmod(prefix, 0o777)
    plant()
else:  # race: once the build made its directory, plant into it, take the path when free
    while not os.path.exists(stop):
        tries += 1
        try:
            theirs = os.lstat(prefix).st_uid != os.getuid()
        except OSError:
            theirs = False
        if theirs:
            seen += 1
        elif seen:
            try:
                os.mkdir(prefix, 0o777)
                os.chmod(prefix, 0o777)
            except OSError:
                pass
        if seen:
            plant()
with open(report, "w") as fh:
    fh.write(f"{tries} {seen} {denied} {planted}\n")
"""


def _spec(channel: str) -> dict[str, Any]:
    return {"format": 1, "conda": {"channels": [channel], "dependencies": ["python"]}}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, local_channel: Any) -> Path:
    root = tmp_path_factory.mktemp("staging-private")
    (root / "deps.json").write_text(json.dumps(_spec(local_channel.url)))
    return root


@pytest.fixture()
def staging_root() -> Iterator[Path]:
    """A shared staging root as /tmp is (mode 1777), of this test only."""
    root = Path(tempfile.mkdtemp(prefix="pkgtool-test-staging-", dir="/tmp"))
    os.chmod(root, 0o1777)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _create(project: Path, cache: Path, root: Path, out: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pkgtool", "create", "--cache-dir", str(cache), "deps.json", out],
        cwd=project, capture_output=True, text=True, check=False, timeout=900,
        env={**os.environ, "PKG_STAGING_ROOT": str(root)},
    )  # fmt: skip


def _prefix(project: Path, cache: Path, root: Path) -> Path:
    """The staging prefix of the project's conda layer (a build is needed for its lock)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pkgtool", "lock", "--cache-dir", str(cache), "deps.json",
         "probe.lock.json"],
        cwd=project, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    key = Lock.load(project / "probe.lock.json").conda_key()
    old = os.environ.get("PKG_STAGING_ROOT")
    os.environ["PKG_STAGING_ROOT"] = str(root)
    try:
        return staging_prefix(key)
    finally:
        if old is None:
            del os.environ["PKG_STAGING_ROOT"]
        else:
            os.environ["PKG_STAGING_ROOT"] = old


def _attacker(prefix: Path, stop: Path, report: Path, mode: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["/usr/bin/python3", "-c", ATTACKER, str(prefix), str(stop), str(report), mode],
        user=NOBODY, group=NOBODY, extra_groups=[], cwd="/", stdout=subprocess.DEVNULL,
    )  # fmt: skip


def _hers(tree: Path) -> list[str]:
    """Files under ``tree`` owned by her or named like her plant."""
    found = []
    for directory, dirnames, filenames in os.walk(tree):
        for name in dirnames + filenames:
            path = os.path.join(directory, name)
            if os.lstat(path).st_uid == NOBODY or name == "zz.sh":
                found.append(os.path.relpath(path, tree))
    return found


def _members(archive: Path) -> list[str]:
    with tarfile.open(archive) as tar:
        return tar.getnames()


def _cache_entries(cache: Path) -> list[str]:
    return [
        f"{kind}/{p.name}"
        for kind in ("layers", "archives", "pip-dists")
        if (cache / kind).is_dir()
        for p in (cache / kind).iterdir()
    ]


def test_a_squatted_staging_prefix_is_refused_and_nothing_is_cached(
    project: Path, staging_root: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    prefix = _prefix(project, cache, staging_root)
    squat = _attacker(prefix, staging_root / "stop", staging_root / "report", "squat")
    assert squat.wait(timeout=60) == 0
    assert (prefix / PLANT).is_file() and prefix.stat().st_uid == NOBODY
    proc = _create(project, cache, staging_root, "squatted.tar.gz")
    assert proc.returncode == EXIT_BUILD, proc.stderr
    assert "belongs to another user" in proc.stderr
    assert "hint:" in proc.stderr and "PKG_STAGING_ROOT" in proc.stderr
    assert not (project / "squatted.tar.gz").exists()
    assert _cache_entries(cache) == [], "a failed build stored something"
    assert _hers(cache) == []
    shutil.rmtree(prefix)  # she gave the path up; the retry the hint suggests
    retry = _create(project, cache, staging_root, "retry.tar.gz")
    assert retry.returncode == 0, retry.stderr
    assert "from the build cache" not in retry.stderr
    assert PLANT not in _members(project / "retry.tar.gz")
    assert _hers(cache) == []


def test_a_user_racing_the_build_gets_nothing_in(
    project: Path, staging_root: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    prefix = _prefix(project, cache, staging_root)
    stop, report = staging_root / "stop", staging_root / "report"  # where she can look
    race = _attacker(prefix, stop, report, "race")
    try:
        proc = _create(project, cache, staging_root, "raced.tar.gz")
    finally:
        stop.touch()
        try:
            race.wait(timeout=60)
        finally:
            race.kill()
    assert race.returncode == 0
    tries, seen, denied, planted = map(int, report.read_text().split())
    print(f"attacker: {tries} tries, saw the build's prefix {seen}, denied {denied}, "
          f"planted {planted} (in a directory of hers, after the build)")  # fmt: skip
    assert proc.returncode in (0, EXIT_BUILD), proc.stderr
    if proc.returncode == EXIT_BUILD:  # she took the path before the build did
        assert "PKG_STAGING_ROOT" in proc.stderr
        assert _cache_entries(cache) == []
    else:
        assert PLANT not in _members(project / "raced.tar.gz")
    assert _hers(cache) == []
    if prefix.exists():
        shutil.rmtree(prefix)
    retry = _create(project, cache, staging_root, "retry.tar.gz")
    assert retry.returncode == 0, retry.stderr
    assert PLANT not in _members(project / "retry.tar.gz")
    assert _hers(cache) == []


def test_a_staging_root_others_can_write_without_the_sticky_bit_is_refused(
    project: Path, staging_root: Path, tmp_path: Path
) -> None:
    os.chmod(staging_root, 0o777)
    proc = _create(project, tmp_path / "cache", staging_root, "loose.tar.gz")
    assert proc.returncode == EXIT_BUILD, proc.stderr
    assert f"the staging root {staging_root} is unsafe" in proc.stderr
    assert "PKG_STAGING_ROOT" in proc.stderr
    assert _cache_entries(tmp_path / "cache") == []
