"""Benchmark `pkg analyze` at the command line: cold and warm runs against a parse baseline.

    python bench/bench_analyze_speed.py [--tree DIR] [--repeat 5] [--files] [--pkg PATH]

The tree (default: the ``site-packages`` of the running interpreter, or its largest
package if that alone has 1,000+ ``.py`` files) must hold 1,000+ Python files. Each
repetition runs three subprocesses, one after the other (interleaved, so a change of
load hits all three alike):

- baseline: ``python -c`` reading every file and :func:`ast.parse`-ing it once,
  serially, in one thread (the same interpreter, so its start-up is in both);
- cold: ``pkg analyze TREE OUT`` (the console script a user runs) with an empty cache
  (a fresh ``$PKG_ANALYZE_CACHE_DIR``);
- warm: the same command again with that cache (the stored result is returned after
  its dependencies are checked: ``analyzer/_results.py``).

For each it records the wall time and the CPU time (user + system of the child, from
``os.wait4``). It prints, for cold/baseline and warm/baseline, the min, median and max of
the per-repetition ratios, in CPU and in wall time, beside the targets of issue 23
(cold <= 1.2x, warm <= 0.1x), and the load average before and after.
``analyze`` gets the tree as one directory input, or with ``--files`` the list of files
(every ``.py`` file); the baseline parses exactly the files ``analyze`` takes as entry
points.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MIN_FILES = 1000
TARGETS = {"cold": 1.2, "warm": 0.1}

BASELINE = """\
import ast, sys
for name in open(sys.argv[1], encoding="utf-8").read().splitlines():
    with open(name, "rb") as fh:
        source = fh.read()
    try:
        ast.parse(source, name)
    except (SyntaxError, ValueError):
        pass
"""


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float


def run(argv: list[str], env: dict[str, str]) -> Run:
    """Run ``argv`` to completion; its wall time and CPU time (user + system)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode not in (0,):
        sys.exit(f"{' '.join(argv[:3])} ... exited {proc.returncode}: {err.decode()[-500:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime)


def _python_files(tree: Path) -> list[Path]:
    return sorted(p for p in tree.rglob("*.py") if "__pycache__" not in p.parts)


def _default_tree() -> Path:
    """The largest package of site-packages if it has 1,000+ files, else site-packages."""
    site = Path(sysconfig.get_paths()["purelib"])
    packages = [d for d in site.iterdir() if d.is_dir() and (d / "__init__.py").is_file()]
    counts = {d: len(_python_files(d)) for d in packages}
    best = max(counts, key=lambda d: counts[d], default=None)
    return best if best is not None and counts[best] >= MIN_FILES else site


def _entry_files(inputs: list[Path]) -> list[Path]:
    from pkgtool.analyzer._inputs import collect_entries

    return [e.file for e in collect_entries(inputs, None) if e.file.suffix == ".py"]


def _spread(values: list[float]) -> str:
    return (
        f"min {min(values):5.2f}  median {statistics.median(values):5.2f}  max {max(values):5.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, help="a directory with 1,000+ .py files")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--files", action="store_true", help="pass files, not the directory")
    parser.add_argument("--pkg", type=Path, help="the pkg command (default: beside python)")
    args = parser.parse_args()
    tree = (args.tree or _default_tree()).resolve()
    inputs = _python_files(tree) if args.files else [tree]
    files = _entry_files(inputs)
    if len(files) < MIN_FILES:
        sys.exit(f"{tree} has {len(files)} Python files; give --tree with {MIN_FILES}+")
    pkg = str(args.pkg or Path(sys.executable).with_name("pkg"))
    if not os.access(pkg, os.X_OK):
        pkg = shutil.which("pkg") or sys.exit("no pkg command: give --pkg PATH")
    size = sum(f.stat().st_size for f in files)
    print(f"tree: {tree}")
    print(f"files: {len(files)} ({size / 1e6:.1f} MB), cpus: {os.cpu_count()}, pkg: {pkg}")
    load_before = os.getloadavg()
    runs: dict[str, list[Run]] = {"baseline": [], "cold": [], "warm": []}
    with tempfile.TemporaryDirectory(prefix="pkgtool-bench-") as tmp:
        base = Path(tmp)
        listing = base / "files.txt"
        listing.write_text("".join(f"{f}\n" for f in files), encoding="utf-8")
        command = [pkg, "analyze", *map(str, inputs), str(base / "deps.json")]
        for i in range(args.repeat):
            env = {**os.environ, "PKG_ANALYZE_CACHE_DIR": str(base / f"cache-{i}")}
            env.pop("PKG_TABLE", None)
            runs["baseline"].append(run([sys.executable, "-c", BASELINE, str(listing)], env))
            runs["cold"].append(run(command, env))
            runs["warm"].append(run(command, env))
    load_after = os.getloadavg()
    print(f"load average (1, 5, 15 min): before {load_before}, after {load_after}")
    print(f"{args.repeat} repetitions, seconds per run (wall / cpu):")
    for name, values in runs.items():
        cells = ", ".join(f"{r.wall:.2f}/{r.cpu:.2f}" for r in values)
        print(f"  {name:<8} {cells}")
    for name, target in TARGETS.items():
        for what in ("cpu", "wall"):
            ratios = [
                getattr(r, what) / getattr(b, what)
                for r, b in zip(runs[name], runs["baseline"], strict=True)
            ]
            met = "met" if statistics.median(ratios) <= target else "NOT met"
            print(f"{name}/baseline {what:<4} {_spread(ratios)}  (target <= {target}: {met})")


if __name__ == "__main__":
    main()
