"""Benchmark `pkg run`: cold and warm start against plain baselines, as ratios.

    python bench/bench_run.py [--archive env.tar.gz] [--repeat 7]

Without --archive it builds the quick-start example with ``--local-python`` (cached in
``bench/.cache``). Baselines, run side by side in this same script:

- cold: ``tar -xzf`` + ``conda-unpack`` into a fresh directory (what a user would do by hand)
  vs. ``pkg run`` (Python runner) and ``pkg-run.sh`` (POSIX runner) on an empty cache;
- warm: the unpacked env's ``bin/python -c pass`` vs. the same through each runner.

Prints medians in seconds and the ratio runner/baseline (lower is better; 1.0 = no cost).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _run(*cmd: str | Path, cwd: Path | None = None) -> None:
    subprocess.run([str(c) for c in cmd], check=True, cwd=cwd, stdout=subprocess.DEVNULL)


def _build_example() -> Path:
    cache = HERE / ".cache"
    out = cache / "example" / "env.tar.gz"
    if out.exists():
        return out
    work = cache / "example"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(ROOT / "examples" / "quickstart", work)
    pkg = [sys.executable, "-m", "pkgtool"]
    _run(*pkg, "analyze", "analysis.py", "deps.json", cwd=work)
    _run(*pkg, "create", "--local-python", sys.executable, "--cache-dir", cache / "build",
         "deps.json", "env.tar.gz", cwd=work)  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    archive = (args.archive or _build_example()).resolve()
    py_runner = [sys.executable, "-m", "pkgtool", "run"]
    sh_runner = ["sh", str(ROOT / "src" / "pkgtool" / "runner" / "pkg-run.sh")]
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="pkgtool-bench-") as tmp:
        base = Path(tmp)

        def baseline_cold(i: int) -> float:
            prefix = base / f"plain-{i}"
            prefix.mkdir()

            def go() -> None:
                _run("tar", "-xzf", archive, "-C", prefix)
                _run(prefix / "bin" / "python", prefix / "bin" / "conda-unpack")

            return _timed(go)

        def runner_cold(runner: list[str], tag: str, i: int) -> float:
            cache = base / f"{tag}-cache-{i}"
            return _timed(lambda: _run(*runner, "--cache-dir", cache, archive, "true"))

        n = args.repeat
        cold_base = statistics.median(baseline_cold(i) for i in range(n))
        for tag, runner in (("pkg run", py_runner), ("pkg-run.sh", sh_runner)):
            cold = statistics.median(runner_cold(runner, tag.replace(" ", ""), i) for i in range(n))
            rows.append((f"cold {tag}", cold, cold / cold_base))
        warm_prefix = base / "plain-0"
        warm_base = statistics.median(
            _timed(lambda: _run(warm_prefix / "bin" / "python", "-c", "pass")) for _ in range(n)
        )
        for tag, runner in (("pkg run", py_runner), ("pkg-run.sh", sh_runner)):
            cache = base / f"{tag.replace(' ', '')}-cache-0"
            cmd = [*runner, "--cache-dir", str(cache), str(archive), "python", "-c", "pass"]
            warm = statistics.median(_timed(lambda c=cmd: _run(*c)) for _ in range(n))
            rows.append((f"warm {tag} python -c pass", warm, warm / warm_base))
    size = archive.stat().st_size / 1e6
    print(f"archive {archive.name}: {size:.1f} MB; medians of {args.repeat} runs")
    print(f"baseline cold (tar -xzf + conda-unpack): {cold_base:.3f} s")
    print(f"baseline warm (bin/python -c pass):       {warm_base:.3f} s")
    for name, seconds, ratio in rows:
        print(f"{name:<34} {seconds:.3f} s  ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
