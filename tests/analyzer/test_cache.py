"""The scan cache, the result cache and the parallel scanner, on real files, real
environments and a real SQLite database.

No timing here (speed lives in ``bench/bench_analyze_speed.py``): a cache hit is proven
by the scanner's and the result cache's counters, or by planting a value in the
database and seeing it come back out of :func:`analyze`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sqlite3
import subprocess
import sys
import sysconfig
import textwrap
import threading
from pathlib import Path

import pytest

from pkgtool.analyzer import AnalysisResult, AnalyzeOptions, _cache, _results, _scanner, analyze
from pkgtool.analyzer._cache import ENV_DIR, ScanCache, default_cache_dir, scan_key
from pkgtool.analyzer._codec import CodecError, decode, encode
from pkgtool.analyzer._conditions import Target
from pkgtool.analyzer._results import HashingReader, ResultStats
from pkgtool.analyzer._scan import FileScan, ImportSite, ScanError, scan_source
from pkgtool.analyzer._scanner import Scanner

T311 = Target((3, 11))
SCRIPT = """\
import json
import requests
try:
    import yaml
except ImportError:
    yaml = None
import importlib
plugin = importlib.import_module("rich.console")
from helpers import util
"""
HELPERS = {"helpers/__init__.py": "", "helpers/util.py": "import numpy\n"}


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache directory of this test's own (the session one is shared)."""
    path = tmp_path / "cache"
    monkeypatch.setenv(ENV_DIR, str(path))
    return path


def write(root: Path, files: dict[str, str]) -> list[Path]:
    paths = []
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        paths.append(path)
    return paths


def project(root: Path, n: int = 3) -> Path:
    """A small project: ``main.py``, a package, ``n`` scripts, one that does not parse."""
    files = {"main.py": SCRIPT, **HELPERS, "broken.py": "import six\nprint 'py2'\n"}
    for i in range(n):
        files[f"scripts/s{i:03d}.py"] = f"import os\nimport pkg_{i % 7}\nfrom . import x{i}\n"
    write(root / "proj", files)
    return root / "proj"


def scan_all(scanner: Scanner, files: list[Path], target: Target = T311) -> list[object]:
    """The outcome for each file: its FileScan, or ``(line, message)`` of its ScanError."""
    scanner.prefetch((f, f.name, target) for f in files)
    outcomes: list[object] = []
    for file in files:
        try:
            outcomes.append(scanner.scan(file, file.name, target))
        except ScanError as exc:
            outcomes.append((exc.line, exc.message))
    scanner.close()
    return outcomes


def summary(result: AnalysisResult) -> tuple[object, ...]:
    """Everything analyze reports, as comparable values."""
    return (result.spec.to_json(), result.problems, result.imports)


# ------------------------------------------------------------------ codec


def test_codec_round_trips_scan_results() -> None:
    site = ImportSite("a.b", 1, ("c", "*"), 3, True, "dynamic", True, ("K.f", "g"))
    values: list[object] = [
        FileScan((site, ImportSite("x", 0, (), 1)), ("c", "d")),
        FileScan(()),
        {"k": [1, 2.5, None, True], (1, 2): "tuple key"},
    ]
    for value in values:
        assert decode(encode(value)) == value
    error = decode(encode(ScanError(4, "syntax error: invalid syntax")))
    assert isinstance(error, ScanError)
    assert (error.line, error.message, str(error)) == (
        4,
        "syntax error: invalid syntax",
        "syntax error: invalid syntax",
    )


def test_codec_builds_only_pkgtool_classes() -> None:
    with pytest.raises(CodecError):
        encode(object())
    with pytest.raises(CodecError):
        encode(Path("/x"))
    with pytest.raises(CodecError):
        decode('{"@": "subprocess:Popen", "f": [["true"]]}')
    with pytest.raises(CodecError):
        decode('{"!": "pkgtool.analyzer._scan:FileScan", "a": [], "s": {"d": []}}')
    with pytest.raises(CodecError):
        decode("not json")


# ------------------------------------------------------------------ the cache


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_DIR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "pkgtool" / "analyze"
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"


def test_second_run_hits_the_cache(tmp_path: Path, cache_dir: Path) -> None:
    files = write(tmp_path, {"a.py": SCRIPT, "b.py": "import numpy\n", "c.py": "def (:\n"})
    cold_cache = ScanCache(cache_dir)
    cold = Scanner(cold_cache)
    first = scan_all(cold, files)
    assert (cold.stats.parsed, cold_cache.stats.hits, cold_cache.stats.writes) == (3, 0, 3)
    assert first[1] == FileScan((ImportSite("numpy", 0, (), 1),))
    assert first[2] == (1, "syntax error: invalid syntax")

    warm_cache = ScanCache(cache_dir)
    warm = Scanner(warm_cache)
    assert scan_all(warm, files) == first
    assert warm.stats.parsed == 0  # nothing parsed: all three, the broken one too, hit
    assert (warm_cache.stats.hits, warm_cache.stats.misses, warm_cache.stats.writes) == (3, 0, 0)


def test_changed_content_misses_and_moved_file_hits(tmp_path: Path, cache_dir: Path) -> None:
    (a,) = write(tmp_path, {"a.py": "import numpy\n"})
    scan_all(Scanner(ScanCache(cache_dir)), [a])
    a.write_text("import pandas\n", encoding="utf-8")
    changed = Scanner(ScanCache(cache_dir))
    assert scan_all(changed, [a]) == [FileScan((ImportSite("pandas", 0, (), 1),))]
    assert changed.stats.parsed == 1
    moved = a.rename(tmp_path / "elsewhere.py")  # same bytes, other path: the key is the content
    again = Scanner(ScanCache(cache_dir))
    assert scan_all(again, [moved]) == [FileScan((ImportSite("pandas", 0, (), 1),))]
    assert again.stats.parsed == 0


def test_target_is_part_of_the_key(tmp_path: Path, cache_dir: Path) -> None:
    text = "import sys\nif sys.version_info < (3, 11):\n    import tomli\n"
    (a,) = write(tmp_path, {"a.py": text})
    first = scan_all(Scanner(ScanCache(cache_dir)), [a], Target((3, 11)))
    other = Scanner(ScanCache(cache_dir))
    second = scan_all(other, [a], Target((3, 10)))
    assert other.stats.parsed == 1
    sys_site = ImportSite("sys", 0, (), 1)
    assert first[0] == FileScan((sys_site, ImportSite("tomli", 0, (), 3, optional=True)))
    assert second[0] == FileScan((sys_site, ImportSite("tomli", 0, (), 3)))
    as_module = Scanner(ScanCache(cache_dir))
    scan_all(as_module, [a], Target((3, 11), is_main=False))
    assert as_module.stats.parsed == 1
    digest = hashlib.sha256(text.encode()).digest()
    keys = {
        scan_key(digest, Target((3, 11)), "f"),
        scan_key(digest, Target((3, 11)), "g"),
        scan_key(digest, Target((3, 11), platform="darwin"), "f"),
    }
    assert len(keys) == 3


def test_corrupt_database_is_ignored_and_rebuilt(tmp_path: Path, cache_dir: Path) -> None:
    root = project(tmp_path)
    expected = summary(analyze([root], AnalyzeOptions(spec_dir=root, cache=False)))
    database = ScanCache(cache_dir).path
    database.parent.mkdir(parents=True)
    database.write_bytes(b"this is not a database" * 100)
    assert summary(analyze([root], AnalyzeOptions(spec_dir=root))) == expected
    with sqlite3.connect(database) as conn:  # rebuilt, and filled
        assert conn.execute("SELECT count(*) FROM scans").fetchone()[0] > 0
    conn.close()
    cache = ScanCache(cache_dir)
    cache.get_many(["0" * 64])
    cache.close()
    assert cache.stats.error is None


def test_corrupt_value_is_a_miss(tmp_path: Path, cache_dir: Path) -> None:
    (a,) = write(tmp_path, {"a.py": "import numpy\n"})
    scan_all(Scanner(ScanCache(cache_dir)), [a])
    with sqlite3.connect(ScanCache(cache_dir).path) as conn:
        conn.execute("UPDATE scans SET value = ?", ('{"@": "os:system", "f": ["true"]}',))
    conn.close()
    again = Scanner(ScanCache(cache_dir))
    assert scan_all(again, [a]) == [FileScan((ImportSite("numpy", 0, (), 1),))]
    assert again.stats.parsed == 1


def test_unusable_cache_dir_does_not_fail_analysis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path)
    expected = summary(analyze([root], AnalyzeOptions(spec_dir=root, cache=False)))
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way", encoding="utf-8")
    monkeypatch.setenv(ENV_DIR, str(blocker / "cache"))  # cannot be created: a file is there
    assert summary(analyze([root], AnalyzeOptions(spec_dir=root))) == expected
    cache = ScanCache(blocker / "cache")
    assert cache.get_many(["0" * 64]) == {}
    cache.put_many([("0" * 64, "null")])
    assert cache.stats.error is not None and "disabled" in cache.stats.error


def test_locked_database_does_not_fail_analysis(tmp_path: Path, cache_dir: Path) -> None:
    root = project(tmp_path)
    expected = summary(analyze([root], AnalyzeOptions(spec_dir=root)))
    (root / "new.py").write_text("import attr\n", encoding="utf-8")
    other = sqlite3.connect(ScanCache(cache_dir).path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # another process writing: we can read, not write
        result = analyze([root], AnalyzeOptions(spec_dir=root))
    finally:
        other.close()
    assert "attr" in {r.module for r in result.imports}
    assert result.problems == expected[1]


def test_oversized_database_is_started_again(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = write(tmp_path, {f"m{i}.py": f"import pkg{i}\n" for i in range(20)})
    scan_all(Scanner(ScanCache(cache_dir)), files)
    monkeypatch.setattr(_cache, "MAX_BYTES", 1)
    cache = ScanCache(cache_dir)
    assert cache.get_many(["0" * 64]) == {}
    cache.put_many([("0" * 64, "null")])
    cache.close()
    monkeypatch.setattr(_cache, "MAX_BYTES", 1 << 30)
    with sqlite3.connect(cache.path) as conn:
        assert conn.execute("SELECT count(*) FROM scans").fetchone()[0] == 1
    conn.close()


def test_concurrent_analyses_share_the_cache(tmp_path: Path, cache_dir: Path) -> None:
    root = project(tmp_path, n=40)
    code = (
        "import sys; from pathlib import Path; "
        "from pkgtool.analyzer import analyze, AnalyzeOptions; "
        "r = analyze([Path(sys.argv[1])], AnalyzeOptions(spec_dir=Path(sys.argv[1]))); "
        "print(len(r.imports))"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    assert len({out for out, _ in outputs}) == 1
    with sqlite3.connect(ScanCache(cache_dir).path) as conn:
        assert conn.execute("SELECT count(*) FROM scans").fetchone()[0] >= 40
    conn.close()


# ------------------------------------------------------------------ through analyze


def test_analyze_reads_the_cache(tmp_path: Path, cache_dir: Path) -> None:
    root = project(tmp_path)
    options = AnalyzeOptions(spec_dir=root)
    before = analyze([root / "main.py"], options)
    assert "planted_pkg" not in {r.module for r in before.imports}
    planted = encode(FileScan((ImportSite("planted_pkg", 0, (), 1),)))
    with sqlite3.connect(ScanCache(cache_dir).path) as conn:
        assert conn.execute("SELECT count(*) FROM scans").fetchone()[0] == 3  # main, 2 helpers
        conn.execute("UPDATE scans SET value = ?", (planted,))
        conn.execute("DELETE FROM results")  # else the whole result is served as it was
    conn.close()
    from_cache = analyze([root / "main.py"], options)
    assert [r.module for r in from_cache.imports] == ["planted_pkg"]  # the planted scan
    fresh = analyze([root / "main.py"], AnalyzeOptions(spec_dir=root, cache=False))
    assert summary(fresh) == summary(before)


def test_results_identical_with_and_without_cache(tmp_path: Path, cache_dir: Path) -> None:
    root = project(tmp_path)
    inputs = [root, root / "main.py"]
    off = summary(analyze(inputs, AnalyzeOptions(spec_dir=tmp_path, cache=False)))
    cold = summary(analyze(inputs, AnalyzeOptions(spec_dir=tmp_path)))
    warm = summary(analyze(inputs, AnalyzeOptions(spec_dir=tmp_path)))
    assert off == cold == warm
    assert any(p.path.endswith("broken.py") for p in off[1])  # type: ignore[attr-defined]


# ------------------------------------------------------------------ the result cache


@pytest.fixture
def stats() -> ResultStats:
    """The result cache's counters, zeroed."""
    counters = _results.STATS
    for f in dataclasses.fields(counters):
        setattr(counters, f.name, 0)
    return counters


def counts(stats: ResultStats) -> tuple[int, int, int, int]:
    return (stats.hits, stats.misses, stats.stale, stats.writes)


def checked(inputs: list[Path], options: AnalyzeOptions) -> AnalysisResult:
    """``analyze`` with ``options``, after checking it equals an uncached analysis."""
    result = analyze(inputs, options)
    assert result == analyze(inputs, dataclasses.replace(options, cache=False))
    return result


def modules(result: AnalysisResult) -> dict[str, str | None]:
    return {r.module: r.installer for r in result.imports}


def test_second_run_is_served_by_the_result_cache(
    tmp_path: Path, cache_dir: Path, stats: ResultStats
) -> None:
    root = project(tmp_path)
    inputs = [root, root / "main.py"]
    off = analyze(inputs, AnalyzeOptions(spec_dir=tmp_path, cache=False))
    assert counts(stats) == (0, 0, 0, 0)
    assert not cache_dir.exists()  # cache=False: neither layer touched
    cold = analyze(inputs, AnalyzeOptions(spec_dir=tmp_path))
    assert counts(stats) == (0, 1, 0, 1)
    warm = analyze(inputs, AnalyzeOptions(spec_dir=tmp_path))
    assert counts(stats) == (1, 1, 0, 1)
    assert warm == cold == off
    assert warm.recovered > 0 and any(p.path.endswith("broken.py") for p in warm.problems)


def test_editing_an_entry_script_or_a_local_module_invalidates(
    tmp_path: Path, cache_dir: Path, stats: ResultStats
) -> None:
    root = project(tmp_path)
    inputs = [root / "main.py"]
    options = AnalyzeOptions(spec_dir=root)
    checked(inputs, options)
    (root / "main.py").write_text(SCRIPT + "import attr\n", encoding="utf-8")
    assert "attr" in modules(checked(inputs, options))
    assert counts(stats) == (0, 1, 1, 2)
    (root / "helpers" / "util.py").write_text("import scipy\n", encoding="utf-8")
    assert "scipy" in modules(checked(inputs, options))
    (root / "helpers" / "util.py").unlink()
    assert "scipy" not in modules(checked(inputs, options))
    assert counts(stats) == (0, 1, 3, 4)
    checked(inputs, options)
    assert counts(stats) == (1, 1, 3, 4)


def test_a_new_local_module_shadows_an_installed_one(
    tmp_path: Path, cache_dir: Path, stats: ResultStats
) -> None:
    (script,) = write(tmp_path / "app", {"job.py": "import github\nfrom helpers import x\n"})
    options = AnalyzeOptions(spec_dir=tmp_path)
    assert modules(checked([script], options)) == {"github": "pip", "helpers": "pip"}
    write(tmp_path / "app", {"github.py": "import rich\n"})
    assert modules(checked([script], options)) == {
        "github": "local",
        "helpers": "pip",
        "rich": "pip",
    }
    write(tmp_path / "app", {"helpers/x.py": "import numpy\n"})  # a namespace package
    assert modules(checked([script], options))["helpers"] == "local"
    assert counts(stats) == (0, 1, 2, 3)


def test_a_new_file_in_an_input_directory_is_analysed(
    tmp_path: Path, cache_dir: Path, stats: ResultStats
) -> None:
    root = project(tmp_path)
    options = AnalyzeOptions(spec_dir=tmp_path)
    checked([root], options)
    write(root, {"scripts/new.py": "import attr\n"})
    result = checked([root], options)
    assert "attr" in modules(result)
    assert counts(stats) == (0, 2, 0, 2)  # other entry points: another key


def test_installing_a_distribution_invalidates(
    tmp_path: Path, cache_dir: Path, stats: ResultStats
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (script,) = write(tmp_path, {"job.py": "import fancylib\n"})
    options = AnalyzeOptions(spec_dir=tmp_path, python=venv / "bin" / "python")
    assert checked([script], options).spec.pip == ("fancylib",)  # not installed: a guess
    checked([script], options)
    assert counts(stats) == (1, 1, 0, 1)

    info = purelib / "fancylib_pkgtool-1.2.3.dist-info"
    write(
        info,
        {
            "METADATA": "Metadata-Version: 2.1\nName: fancylib-pkgtool\nVersion: 1.2.3\n",
            "top_level.txt": "fancylib\n",
            "RECORD": "fancylib/__init__.py,,\n",
        },
    )
    write(purelib, {"fancylib/__init__.py": ""})
    assert checked([script], options).spec.pip == ("fancylib-pkgtool==1.2.3",)
    assert counts(stats) == (1, 1, 1, 2)
    # an upgrade in place: same directory name, rewritten metadata
    write(info, {"METADATA": "Metadata-Version: 2.1\nName: fancylib-pkgtool\nVersion: 1.2.4\n"})
    assert checked([script], options).spec.pip == ("fancylib-pkgtool==1.2.4",)
    assert counts(stats) == (1, 1, 2, 3)


def test_other_options_are_another_key(tmp_path: Path, cache_dir: Path, stats: ResultStats) -> None:
    (script,) = write(tmp_path, {"job.py": "import numpy\n"})
    exact = checked([script], AnalyzeOptions(spec_dir=tmp_path))
    loose = checked([script], AnalyzeOptions(spec_dir=tmp_path, pin="none"))
    assert exact.spec.pip != loose.spec.pip == ("numpy",)
    elsewhere = checked([script], AnalyzeOptions(spec_dir=tmp_path / "out"))
    assert elsewhere.imports[0].sites == ("../job.py:1",)
    assert counts(stats) == (0, 3, 0, 3)
    assert analyze([script], AnalyzeOptions(spec_dir=tmp_path)) == exact
    assert counts(stats) == (1, 3, 0, 3)


def test_freeze_bypasses_the_result_cache(
    tmp_path: Path, cache_dir: Path, stats: ResultStats
) -> None:
    (script,) = write(tmp_path, {"job.py": "import rich\n"})
    options = AnalyzeOptions(spec_dir=tmp_path, freeze=True)
    analyze([script], options)
    analyze([script], options)
    assert counts(stats) == (0, 0, 0, 0)
    assert stats.bypassed == 2


def test_corrupt_stored_result_is_recomputed(
    tmp_path: Path, cache_dir: Path, stats: ResultStats
) -> None:
    root = project(tmp_path)
    options = AnalyzeOptions(spec_dir=root)
    expected = checked([root], options)
    for column, value in (("value", '{"@": "os:system", "f": ["true"]}'), ("deps", "[1]")):
        with sqlite3.connect(ScanCache(cache_dir).path) as conn:
            conn.execute(f"UPDATE results SET {column} = ?", (value,))
        conn.close()
        assert analyze([root], options) == expected
    assert counts(stats) == (0, 1, 2, 3)
    assert analyze([root], options) == expected
    assert stats.hits == 1


def test_a_file_that_changes_while_read_is_not_stored(tmp_path: Path) -> None:
    (a,) = write(tmp_path, {"a.py": "import numpy\n"})
    reader = HashingReader()
    assert reader.read(a) == b"import numpy\n"
    assert reader.read(a) == b"import numpy\n"
    assert reader.consistent
    a.write_text("import pandas\n", encoding="utf-8")
    reader.read(a)
    assert not reader.consistent


# ------------------------------------------------------------------ parallel scanning


def test_parallel_and_serial_scans_are_identical(tmp_path: Path) -> None:
    files = write(
        tmp_path,
        {
            **{f"m{i:03d}.py": f"import a{i}\nfrom .x import y{i}\n" for i in range(70)},
            "dyn.py": "import importlib\nm = importlib.import_module('pkg.sub')\n",
            "bad.py": "import ok\nx = (\n",
            "nul.py": "x = 1\0\n",
        },
    )
    serial = Scanner(None, workers=1)
    pooled = Scanner(None, workers=2, parallel_min=1)
    assert scan_all(pooled, files) == scan_all(serial, files)
    assert (serial.stats.parsed, serial.stats.pooled) == (len(files), 0)
    assert pooled.stats.pool_error is None
    assert (pooled.stats.parsed, pooled.stats.pooled) == (0, len(files))


def test_pool_while_another_thread_runs(tmp_path: Path) -> None:
    files = write(tmp_path, {f"m{i:03d}.py": f"import a{i}\n" for i in range(40)})
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:  # forking now could deadlock: the workers come from a fork server instead
        pooled = Scanner(None, workers=2, parallel_min=1)
        assert scan_all(pooled, files) == scan_all(Scanner(None, workers=1), files)
    finally:
        stop.set()
        other.join()
    assert (pooled.stats.pooled, pooled.stats.pool_error) == (len(files), None)


def test_analyze_same_spec_in_parallel_and_serially(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path, n=_scanner.PARALLEL_MIN_FILES + 10)
    options = AnalyzeOptions(spec_dir=tmp_path, cache=False)
    parallel = summary(analyze([root], options))
    monkeypatch.setattr(_scanner, "PARALLEL_MIN_FILES", 10**9)
    assert summary(analyze([root], options)) == parallel


def test_scan_function_result_is_what_is_cached(tmp_path: Path, cache_dir: Path) -> None:
    (a,) = write(tmp_path, {"a.py": "import numpy\n"})
    scanner = Scanner(ScanCache(cache_dir), scan_function=scan_source)
    assert scan_all(scanner, [a]) == [scan_source(a.read_bytes(), "a.py", T311)]
