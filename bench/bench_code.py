"""Benchmark a code edit: `pkg create` after editing one module, against a full cold build.

    python bench/bench_code.py [--repeat 3]

Builds the quick-start example as bench_create.py does (python and pip from a local conda
channel made from this interpreter; numpy and PyYAML from the package index). Each
repetition, interleaved (the order alternates):

- cold: ``pkg create`` with an empty build cache (the full rebuild a code edit cost
  before code became its own layer);
- code edit: one line appended to ``stats/core.py``, then ``pkg create`` with the build
  cache of earlier builds (the environment layer is reused; only the code layer and the
  archive are written).

Prints the seconds (min/median/max) of both, the per-repetition ratio code-edit/cold, and
the archive's size against its code layer's. Target: a code edit in <= 1 s.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_create import _row, _setup, _timed  # noqa: E402 - sibling benchmark module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-code-") as tmp:
        work = Path(tmp)
        _, project, _ = _setup(work)
        pkg = [sys.executable, "-m", "pkgtool", "create"]
        warm = work / "warm-cache"
        _timed([*pkg, "--cache-dir", str(warm), "deps.json", "env.tar.gz"], project)
        cold_s: list[float] = []
        edit_s: list[float] = []
        for rep in range(args.repeat):
            order = ("cold", "edit") if rep % 2 == 0 else ("edit", "cold")
            for which in order:
                if which == "cold":
                    cache = work / f"cold-{rep}"
                    cold_s.append(_timed([*pkg, "--cache-dir", str(cache), "deps.json",
                                          "cold.tar.gz"], project))  # fmt: skip
                    shutil.rmtree(cache)
                else:
                    with (project / "stats" / "core.py").open("a") as fh:
                        fh.write(f"# edit {rep}\n")
                    edit_s.append(_timed([*pkg, "--cache-dir", str(warm), "deps.json",
                                          "env.tar.gz"], project))  # fmt: skip
        sys.path.insert(0, str(HERE.parent / "src"))
        from pkgtool.builder._layers import read_index

        index = read_index(project / "env.tar.gz")
        code = index.code if index else None
        ratios = [e / c for e, c in zip(edit_s, cold_s, strict=True)]
        print(f"quick-start example, {args.repeat} repetitions, interleaved\n")
        print("| build | min s | median s | max s |")
        print("|---|---|---|---|")
        for name, values in (("cold (full rebuild)", cold_s), ("code edit", edit_s)):
            print(f"| {name} | {min(values):.2f} | {statistics.median(values):.2f} | "
                  f"{max(values):.2f} |")  # fmt: skip
        print("\n| ratio | min | median | max | note |")
        print("|---|---|---|---|---|")
        print(_row("code edit / cold", ratios, "target: code edit <= 1 s"))
        size = (project / "env.tar.gz").stat().st_size
        print(f"\narchive {size / 1e6:.1f} MB, code layer {code.length if code else 0} bytes")


if __name__ == "__main__":
    main()
