"""The lock-first builder's guarantees, each attacked with real builds: byte-reproducible
archives across cache directories, build times, umasks and formats; the build cache (hit
and layered rebuild); portable locks, including --local-python; the glibc floor; errors
that leave nothing behind."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest

from pkgtool.builder import CreateOptions, create
from pkgtool.builder.cache import STAGING_ROOT
from pkgtool.errors import EXIT_BUILD, EXIT_INPUT, EXIT_RESOLUTION, EXIT_USAGE
from pkgtool.spec import load_spec

Pkg = Callable[..., CompletedProcess[str]]
pytestmark = pytest.mark.slow

SCRIPT = "import yaml\nimport numpy\nprint(numpy.add(2, 3), yaml.safe_dump({'a': 1}).strip())\n"


def _spec(conda: list[str], pip: list[str], imports: list[str]) -> dict[str, Any]:
    return {
        "format": 1,
        "conda": {"channels": [], "dependencies": [*conda, {"pip": pip}]},
        "analysis": {
            "entry_points": ["job.py"],
            "imports": [
                {"module": m, "distribution": None, "version": None, "installer": "pip",
                 "optional": False, "sites": ["job.py:1"]}
                for m in imports
            ],
        },
    }  # fmt: skip


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _staged() -> set[Path]:
    """Staging prefixes now in the staging root (their small lock files may stay)."""
    return {p for p in STAGING_ROOT.glob("pkgtool-build-*") if p.is_dir()}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, local_channel: Any) -> Path:
    root = tmp_path_factory.mktemp("lockfirst")
    (root / "job.py").write_text(SCRIPT)
    spec = _spec(["python", "numpy"], ["pyyaml"], ["numpy", "yaml"])
    spec["conda"]["channels"] = [local_channel.url]
    (root / "deps.json").write_text(json.dumps(spec))
    return root


@pytest.fixture(scope="module")
def builds(project: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two builds of each format, from two cache directories, at least a second apart and
    under different umasks, SOURCE_DATE_EPOCH unset."""
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    out: dict[str, Path] = {}
    for run, umask in (("a", "022"), ("b", "077")):
        cache = tmp_path_factory.mktemp(f"cache-{run}")
        for suffix in (".tar.gz", ".tar.zst"):
            archive = project / f"env-{run}{suffix}"
            proc = subprocess.run(
                ["sh", "-c", f"umask {umask}; exec \"$@\"", "sh", sys.executable, "-m",
                 "pkgtool", "create", "--cache-dir", str(cache), "deps.json", str(archive)],
                cwd=project, capture_output=True, text=True, env=env, check=False,
            )  # fmt: skip
            assert proc.returncode == 0, proc.stderr
            out[run + suffix] = archive
        out[f"cache-{run}"] = cache
        time.sleep(1.1)
    return out


@pytest.mark.parametrize("suffix", [".tar.gz", ".tar.zst"])
def test_same_lock_gives_the_same_bytes(builds: dict[str, Path], suffix: str) -> None:
    a, b = builds["a" + suffix], builds["b" + suffix]
    assert a.stat().st_size > 1_000_000
    assert _sha256(a) == _sha256(b), f"{a.name} and {b.name} differ"


def test_members_are_normalised(builds: dict[str, Path]) -> None:
    with tarfile.open(builds["a.tar.gz"]) as tar:
        members = tar.getmembers()
    assert {m.mtime for m in members} == {315532800}
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
    assert not [m.name for m in members if m.islnk() or m.isdev() or m.isfifo()]
    assert {m.mode for m in members if m.isreg()} <= {0o644, 0o755}
    names = [m.name for m in members]
    assert names.index("bin/conda-unpack") > 0


def test_source_date_epoch_is_honoured(project: Path, builds: dict[str, Path], pkg: Pkg) -> None:
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    proc = pkg("create", "--cache-dir", builds["cache-a"], "deps.json", "epoch.tar.gz",
               cwd=project, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with tarfile.open(project / "epoch.tar.gz") as tar:
        assert {m.mtime for m in tar.getmembers()} == {1700000000}
    with open(project / "epoch.tar.gz", "rb") as fh:
        assert int.from_bytes(fh.read(8)[4:8], "little") == 1700000000  # gzip MTIME field
    assert _sha256(project / "epoch.tar.gz") != _sha256(builds["a.tar.gz"])


def test_unchanged_spec_is_a_cache_hit(project: Path, builds: dict[str, Path], pkg: Pkg) -> None:
    staged_before = _staged()
    proc = pkg("create", "--cache-dir", builds["cache-a"], "deps.json", "again.tar.gz",
               cwd=project)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "from the build cache" in proc.stderr
    assert _sha256(project / "again.tar.gz") == _sha256(builds["a.tar.gz"])
    assert json.loads((project / "again.lock.json").read_text()) == json.loads(
        (project / "env-a.lock.json").read_text()
    )
    assert _staged() == staged_before


def test_pip_change_reuses_the_conda_layer(project: Path, builds: dict[str, Path]) -> None:
    spec = json.loads((project / "deps.json").read_text())
    spec["conda"]["dependencies"][-1]["pip"].append("six")
    (project / "more.json").write_text(json.dumps(spec))
    steps: list[str] = []
    result = create(
        load_spec(project / "more.json"), project, project / "more.tar.gz",
        CreateOptions(cache_dir=builds["cache-a"]), steps.append,
    )  # fmt: skip
    assert not result.cache_hit
    assert any(s.startswith("reusing the conda layer") for s in steps), steps
    assert not any(s.startswith("installing") and "conda" in s for s in steps), steps
    assert not any(s.startswith("solving") for s in steps), steps  # cached conda resolution
    names = {d["name"].lower() for d in json.loads(result.lock.read_text())["pip"]}
    assert names == {"pyyaml", "six"}


def test_refresh_resolves_again(project: Path, builds: dict[str, Path]) -> None:
    steps: list[str] = []
    options = CreateOptions(cache_dir=builds["cache-a"], refresh=True)
    result = create(load_spec(project / "deps.json"), project, project / "r.tar.gz", options,
                    steps.append)  # fmt: skip
    assert any(s.startswith("solving") for s in steps), steps
    assert _sha256(result.archive) == _sha256(builds["a.tar.gz"])  # same lock, same bytes


def test_glibc_floor_is_what_the_elf_files_need(builds: dict[str, Path], tmp_path: Path) -> None:
    with tarfile.open(builds["a.tar.gz"]) as tar:
        tar.extractall(tmp_path, filter="tar")
    needed = set()
    for path in tmp_path.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.read_bytes()[:4] == b"\x7fELF":
            out = subprocess.run(["readelf", "-V", "-W", str(path)], capture_output=True,
                                 text=True, check=False).stdout  # fmt: skip
            needed |= set(re.findall(r"Name: GLIBC_([0-9.]+)", out))
    manifest = json.loads((tmp_path / ".pkgtool" / "manifest.json").read_text())
    expected = max(needed, key=lambda v: tuple(map(int, v.split("."))))
    assert manifest["glibc"] == expected


def test_local_python_lock_is_portable(
    tmp_path: Path, pkg: Pkg, host_python: Path, project: Path
) -> None:
    first, second = tmp_path / "cache-1", tmp_path / "cache-2"
    spec = _spec(["python"], ["pyyaml"], ["yaml"])
    (tmp_path / "deps.json").write_text(json.dumps(spec))
    (tmp_path / "job.py").write_text("import yaml\n")
    proc = pkg("lock", "--local-python", host_python, "--cache-dir", first, "deps.json",
               "deps.lock.json", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "deps.lock.json").read_text()
    assert str(first) not in text and "file:" not in text, text
    lock = json.loads(text)
    python = next(p for p in lock["conda"] if p["name"] == "python")
    assert python["url"].startswith("local-python/") and len(python["sha256"]) == 64
    outs = []
    for cache in (first, second):  # the second cache has never seen this interpreter
        out = tmp_path / f"env-{cache.name}.tar.gz"
        proc = pkg("create", "--lock", "deps.lock.json", "--local-python", host_python,
                   "--cache-dir", cache, "deps.json", out, cwd=tmp_path)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        outs.append(_sha256(out))
    assert outs[0] == outs[1]

    python["sha256"] = "0" * 64  # the lock of another interpreter build
    (tmp_path / "other.lock.json").write_text(json.dumps(lock))
    proc = pkg("create", "--lock", "other.lock.json", "--local-python", host_python,
               "--cache-dir", second, "deps.json", "other.tar.gz", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == EXIT_RESOLUTION, proc.stderr
    assert "python-" in proc.stderr and "--local-python" in proc.stderr
    assert not (tmp_path / "other.tar.gz").exists()

    proc = pkg("create", "--lock", "deps.lock.json", "--cache-dir", second, "deps.json",
               "none.tar.gz", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == EXIT_RESOLUTION, proc.stderr
    assert "--local-python" in proc.stderr


def _pkg_under(
    umask: str, *args: str | Path, cwd: Path, prefix: tuple[str, ...] = ()
) -> CompletedProcess[str]:
    """``pkg ARGS`` in a subprocess whose umask is ``umask``, behind ``prefix`` (unshare -n)."""
    shell = ["sh", "-c", f'umask {umask}; exec "$@"', "sh"]
    cmd = [*prefix, *shell, sys.executable, "-m", "pkgtool", *map(str, args)]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def umask_locks(tmp_path_factory: pytest.TempPathFactory, host_python: Path) -> dict[str, Path]:
    """A --local-python lock made under umask 077 and one under 022, each in a fresh cache."""
    root = tmp_path_factory.mktemp("umask-locks")
    (root / "deps.json").write_text(json.dumps(_spec(["python", "pip"], ["pyyaml"], ["yaml"])))
    (root / "job.py").write_text("import yaml\n")
    out: dict[str, Path] = {"root": root}
    for umask in ("077", "022"):
        cache, lock = root / f"cache-{umask}", root / f"{umask}.lock.json"
        proc = _pkg_under(
            umask,
            "lock",
            "--local-python",
            host_python,
            "--cache-dir",
            cache,
            "deps.json",
            lock,
            cwd=root,
        )
        assert proc.returncode == 0, proc.stderr
        out[f"cache-{umask}"], out[f"lock-{umask}"] = cache, lock
    return out


def test_local_python_lock_does_not_depend_on_the_umask(
    umask_locks: dict[str, Path], host_python: Path
) -> None:
    assert umask_locks["lock-077"].read_bytes() == umask_locks["lock-022"].read_bytes()
    root = umask_locks["root"]
    for made, other in (("077", "022"), ("022", "077")):  # each built under the other umask
        proc = _pkg_under(
            other,
            "create",
            "--lock",
            umask_locks[f"lock-{made}"],
            "--local-python",
            host_python,
            "--cache-dir",
            umask_locks[f"cache-{other}"],
            "deps.json",
            f"env-{made}.tar.gz",
            cwd=root,
        )
        assert proc.returncode == 0, proc.stderr


def _can_unshare_network() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return (
        subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False).returncode == 0
    )


@pytest.mark.skipif(not _can_unshare_network(), reason="needs root and unshare -n (no network)")
def test_create_from_a_local_python_lock_offline_with_a_warm_cache(
    tmp_path: Path, host_python: Path
) -> None:
    spec = _spec(["python", "pip"], ["pyyaml"], ["yaml"])  # pip in the lock, as in the quick start
    (tmp_path / "deps.json").write_text(json.dumps(spec))
    (tmp_path / "job.py").write_text("import yaml\n")
    cache = tmp_path / "cache"
    for args in (("create", "deps.json", "online.tar.gz"), ("lock", "deps.json", "deps.lock.json")):
        proc = _pkg_under(
            "022",
            args[0],
            "--local-python",
            host_python,
            "--cache-dir",
            cache,
            *args[1:],
            cwd=tmp_path,
        )
        assert proc.returncode == 0, proc.stderr
    # another format than the warm build: no archive cache hit, the environment is installed
    proc = _pkg_under(
        "022",
        "create",
        "--lock",
        "deps.lock.json",
        "--local-python",
        host_python,
        "--cache-dir",
        cache,
        "deps.json",
        "offline.tar.zst",
        cwd=tmp_path,
        prefix=("unshare", "-n"),
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "offline.tar.zst").stat().st_size > 0


@pytest.mark.parametrize("name", ["env.zip", "env.tar.bz2", "env.tar", "env"])
def test_unsupported_archive_names_are_usage_errors(
    project: Path, pkg: Pkg, tmp_path: Path, name: str
) -> None:
    proc = pkg("create", "--cache-dir", tmp_path / "c", project / "deps.json", tmp_path / name)
    assert proc.returncode == EXIT_USAGE, proc.stderr
    assert name in proc.stderr and ".tar.zst" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_invalid_lock_is_bad_input(project: Path, pkg: Pkg, tmp_path: Path) -> None:
    lock = {"format": 2, "platform": "linux-64", "channels": [], "conda": [{"name": "x"}]}
    (tmp_path / "bad.lock.json").write_text(json.dumps(lock))
    proc = pkg("create", "--lock", tmp_path / "bad.lock.json", "--cache-dir", tmp_path / "c",
               project / "deps.json", tmp_path / "x.tar.gz")  # fmt: skip
    assert proc.returncode == EXIT_INPUT, proc.stderr
    assert "conda[0]" in proc.stderr and "version" in proc.stderr


def _assert_nothing_left(proc: Any, tmp_path: Path, staged_before: set[Path]) -> None:
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "deps.json"], proc.stderr
    assert _staged() == staged_before
    for kind in ("archives", "layers", "pip-dists"):  # a failed build stores nothing
        entries = (
            (tmp_path / "cache" / kind).iterdir() if (tmp_path / "cache" / kind).is_dir() else ()
        )
        assert not list(entries), f"a failed build left {kind}/ entries"


def _create_in(
    tmp_path: Path, pkg: Pkg, channel: Any, spec: dict[str, Any]
) -> tuple[Any, set[Path]]:
    """``pkg create`` of ``spec`` (from ``channel``) in ``tmp_path``; the process and the
    staging prefixes that existed before it."""
    spec["conda"]["channels"] = [channel.url]
    (tmp_path / "deps.json").write_text(json.dumps(spec))
    staged_before = _staged()
    proc = pkg("create", "--cache-dir", tmp_path / "cache", "deps.json", "env.tar.gz",
               cwd=tmp_path)  # fmt: skip
    return proc, staged_before


def test_failed_preflight_leaves_nothing(
    local_channel: Any, pkg: Pkg, tmp_path: Path, project: Path
) -> None:
    spec = _spec(["python"], [], ["no_such_module_anywhere"])
    proc, staged_before = _create_in(tmp_path, pkg, local_channel, spec)
    assert proc.returncode == EXIT_BUILD, proc.stderr
    assert "pre-flight" in proc.stderr and "no_such_module_anywhere" in proc.stderr
    _assert_nothing_left(proc, tmp_path, staged_before)


def test_pip_overwriting_a_conda_package_is_refused(
    local_channel: Any, pkg: Pkg, tmp_path: Path
) -> None:
    spec = _spec(["python", "six"], ["six==1.16.0"], [])
    proc, staged_before = _create_in(tmp_path, pkg, local_channel, spec)
    assert proc.returncode == EXIT_BUILD, proc.stderr
    assert "six" in proc.stderr and "one installer" in proc.stderr
    _assert_nothing_left(proc, tmp_path, staged_before)


def test_tool_output_is_kept_in_a_log_the_hint_names(
    local_channel: Any, pkg: Pkg, tmp_path: Path
) -> None:
    spec = _spec(["python"], ["no-such-distribution-pkgtool-test==0.0.1"], [])
    proc, _ = _create_in(tmp_path, pkg, local_channel, spec)
    assert proc.returncode == EXIT_RESOLUTION, proc.stderr
    assert "no-such-distribution-pkgtool-test" in proc.stderr
    logs = list((tmp_path / "cache" / "logs").glob("*.log"))
    assert len(logs) == 1
    assert "no-such-distribution-pkgtool-test" in logs[0].read_text()
    assert str(logs[0]) in proc.stderr


def _wheel(directory: Path, name: str, modules: dict[str, str]) -> Path:
    """A minimal pure-Python wheel (PEP 427) holding ``modules`` (path -> source)."""
    import base64
    import zipfile

    info = f"{name}-1.0.dist-info"
    files = {
        **{path: source.encode() for path, source in modules.items()},
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = ""
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(data)}\n"
    record += f"{name}-1.0.dist-info/RECORD,,\n"
    wheel = directory / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        zf.writestr(f"{name}-1.0.dist-info/RECORD", record)
    return wheel


def test_a_file_that_does_not_compile_is_skipped_with_a_warning(
    local_channel: Any, pkg: Pkg, tmp_path: Path
) -> None:
    modules = {
        "mixed/__init__.py": "",
        "mixed/good.py": "VALUE = 5\n",
        "mixed/legacy.py": 'print "written for python 2"\n',  # a SyntaxError on 3.x
    }
    wheel = _wheel(tmp_path, "mixed", modules)
    spec = _spec(["python", "pip"], [f"mixed @ {wheel.as_uri()}"], ["mixed.good"])
    proc, _ = _create_in(tmp_path, pkg, local_channel, spec)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, proc.stderr
    assert "site-packages/mixed/legacy.py" in warnings[0] and "SyntaxError" in warnings[0]
    assert "verified 1 import" in proc.stderr  # mixed.good, in the new environment
    with tarfile.open(tmp_path / "env.tar.gz") as tar:
        names = tar.getnames()
    assert any(n.endswith("site-packages/mixed/legacy.py") for n in names)
    assert any(re.search(r"mixed/__pycache__/good\.cpython-\d+\.pyc$", n) for n in names)


@pytest.mark.skipif(
    not list(Path(sysconfig.get_paths()["stdlib"], "lib-dynload").glob("_tkinter*.so")),
    reason="the host python was built without Tk (no lib-dynload/_tkinter*.so)",
)
def test_tkinter_is_packaged_when_the_interpreter_has_it(
    local_channel: Any, pkg: Pkg, tmp_path: Path
) -> None:
    spec = _spec(["python"], [], ["tkinter"])  # local_channel's python: the host's, packaged
    proc, _ = _create_in(tmp_path, pkg, local_channel, spec)
    assert proc.returncode == 0, proc.stderr
    assert "verified 1 import" in proc.stderr


@pytest.mark.parametrize("name", ["cdo", "r-base"])
def test_a_conda_only_package_under_local_python_alone_is_refused(
    tmp_path: Path, pkg: Pkg, host_python: Path, name: str
) -> None:
    """cdo: PyPI's cdo is another project (the bindings); r-base: none on PyPI."""
    yml = f"name: job\ndependencies:\n  - python\n  - pyyaml\n  - {name}\n"
    (tmp_path / "environment.yml").write_text(yml)
    cache = tmp_path / "cache"
    proc = pkg("create", "--local-python", host_python, "--cache-dir", cache, "environment.yml",
               "env.tar.gz", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == EXIT_RESOLUTION, proc.stderr
    assert f"{name} is a conda package; pass --channel" in proc.stderr
    assert not (tmp_path / "env.tar.gz").exists()
    assert not (cache / "channels").exists()  # refused before the interpreter was packaged


def test_a_standard_module_the_environment_lacks_fails_the_preflight(
    local_channel: Any, pkg: Pkg, tmp_path: Path
) -> None:
    """turtledemo is never packaged from --local-python; the guarded idlelib is not checked."""
    script = (
        "import json\nimport turtledemo\ntry:\n    import idlelib\nexcept ImportError:\n    pass\n"
    )
    (tmp_path / "job.py").write_text(script)
    spec = {**_spec(["python"], [], []), "code": {"root": ".", "include": ["job.py"]}}
    proc, _ = _create_in(tmp_path, pkg, local_channel, spec)
    assert proc.returncode == EXIT_BUILD, proc.stderr
    assert "pre-flight: import turtledemo" in proc.stderr and "idlelib" not in proc.stderr
    assert not (tmp_path / "env.tar.gz").exists()


def test_cache_is_pruned_to_its_bound_least_recently_used_first(tmp_path: Path) -> None:
    from pkgtool.builder.cache import BuildCache, parse_size, prune

    build_cache = BuildCache(tmp_path)
    entries = []
    for i, kind in enumerate(["layers", "archives", "archives", "layers"]):
        entry = tmp_path / kind / f"entry-{i}"
        entry.mkdir(parents=True)
        (entry / "data").write_bytes(os.urandom(256 * 1024))
        os.utime(entry, (1_000_000 + i, 1_000_000 + i))  # entry-0 least recently used
        entries.append(entry)
    (tmp_path / "resolutions").mkdir()
    (tmp_path / "resolutions" / "r.json").write_text("{}")
    removed = prune(build_cache, limit=parse_size("600K"), keep=(entries[1],))
    assert removed >= 2 * 256 * 1024
    assert [e.exists() for e in entries] == [False, True, False, True]
    assert (tmp_path / "resolutions" / "r.json").exists()
    assert parse_size("10G") == 10 * 2**30 and parse_size("x") is None
