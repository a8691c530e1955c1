"""Benchmark `pkg analyze` on a large tree: cold and warm runs against a parse baseline.

    python bench/bench_analyze_speed.py [--tree DIR] [--repeat 5] [--files]

The tree (default: the ``site-packages`` of the running interpreter, or its largest
package if that alone has 1,000+ ``.py`` files) must hold 1,000+ Python files. Every
repetition runs, side by side in this one process:

- baseline: read every file and :func:`ast.parse` it once, serially, in one thread;
- cold: :func:`pkgtool.analyzer.analyze` on the tree with an empty cache (a fresh
  ``$PKG_ANALYZE_CACHE_DIR``), then warm: the same again with that cache, which returns
  the stored whole result after checking its dependencies (every file read again and
  hashed, directory listings, installed distributions: ``analyzer/_results.py``);
- no cache: ``analyze`` with ``AnalyzeOptions(cache=False)``.

``analyze`` gets the tree as one directory input (every ``.py`` file under it is an
entry point), or with ``--files`` the list of files; the baseline parses exactly the
files ``analyze`` takes as entry points. Prints medians in seconds, the issue's two
targets and whether they are met: cold/baseline <= 1.0 ("analysing costs no more than
reading and ast.parse-ing the files once in one thread") and cold/warm >= 10 ("a second
run over unchanged files is at least 10x faster"), and how many warm runs the result
cache served.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import statistics
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pkgtool.analyzer import AnalyzeOptions, analyze
from pkgtool.analyzer._inputs import collect_entries
from pkgtool.analyzer._results import STATS

MIN_FILES = 1000


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _python_files(tree: Path) -> list[Path]:
    return sorted(p for p in tree.rglob("*.py") if "__pycache__" not in p.parts)


def _default_tree() -> Path:
    """The largest package of site-packages if it has 1,000+ files, else site-packages."""
    site = Path(sysconfig.get_paths()["purelib"])
    packages = [d for d in site.iterdir() if d.is_dir() and (d / "__init__.py").is_file()]
    counts = {d: len(_python_files(d)) for d in packages}
    best = max(counts, key=lambda d: counts[d], default=None)
    return best if best is not None and counts[best] >= MIN_FILES else site


def _baseline(files: list[Path]) -> None:
    for file in files:
        with contextlib.suppress(SyntaxError, ValueError):
            ast.parse(file.read_bytes(), str(file))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, help="a directory with 1,000+ .py files")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--files", action="store_true", help="pass files, not the directory")
    args = parser.parse_args()
    tree = (args.tree or _default_tree()).resolve()
    inputs = _python_files(tree) if args.files else [tree]
    files = [e.file for e in collect_entries(inputs, None) if e.file.suffix == ".py"]
    if len(files) < MIN_FILES:
        sys.exit(f"{tree} has {len(files)} Python files; give --tree with {MIN_FILES}+")
    size = sum(f.stat().st_size for f in files)
    print(f"tree: {tree}")
    print(f"files: {len(files)} ({size / 1e6:.1f} MB), cpus: {os.cpu_count()}")
    times: dict[str, list[float]] = {"baseline": [], "cold": [], "warm": [], "no cache": []}
    problems = 0
    served = 0
    with tempfile.TemporaryDirectory(prefix="pkgtool-bench-") as tmp:
        base = Path(tmp)
        options = AnalyzeOptions(spec_dir=base)
        no_cache = AnalyzeOptions(spec_dir=base, cache=False)
        for i in range(args.repeat):
            os.environ["PKG_ANALYZE_CACHE_DIR"] = str(base / f"cache-{i}")
            times["baseline"].append(_timed(lambda: _baseline(files)))
            times["cold"].append(_timed(lambda: analyze(inputs, options)))
            hits = STATS.hits
            times["warm"].append(_timed(lambda: analyze(inputs, options)))
            served += STATS.hits - hits
            times["no cache"].append(_timed(lambda: analyze(inputs, no_cache)))
        problems = len(analyze(inputs, options).problems)
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"problems reported: {problems}; medians of {args.repeat} runs:")
    for name, value in median.items():
        print(f"  {name:<9} {value:8.3f} s   (runs: {', '.join(f'{v:.2f}' for v in times[name])})")
    cold_ratio = median["cold"] / median["baseline"]
    speedup = median["cold"] / median["warm"]
    print(f"cold / baseline     = {cold_ratio:6.2f}   (target <= 1.0: {_met(cold_ratio <= 1.0)})")
    print(f"no cache / baseline = {median['no cache'] / median['baseline']:6.2f}")
    print(f"cold / warm         = {speedup:6.1f}x  (target >= 10x: {_met(speedup >= 10)})")
    print(f"warm runs served by the result cache: {served} of {args.repeat}")


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    main()
