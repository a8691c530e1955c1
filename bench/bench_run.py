"""Benchmark the runners: cold and warm start against plain baselines and cctools' poncho.

    python bench/bench_run.py [--archive env.tar.gz ...] [--repeat 7] [--warm-repeat 30]
                              [--poncho PATH/TO/poncho_package_run]

Without --archive it builds the quick-start example with ``--local-python`` (cached in
``bench/.cache``). Every contender runs once per repetition, in an order that rotates from
one repetition to the next (interleaved, so that load changes hit all of them alike):

- cold (fresh cache directory each time): ``tar -xzf`` + ``bin/python bin/conda-unpack``
  (the baseline: what a user would type), ``pkg run``, ``sh pkg-run.sh`` (``sh`` is dash on
  Debian), ``python -m pkgtool.runner``, and ``poncho_package_run -u DIR`` when ``--poncho``
  names it (cctools; read from a checkout, never copied into this project);
- warm (environment already unpacked): the unpacked env's ``bin/python -c pass`` (baseline)
  against the same command through each contender.

Prints, per contender, the median seconds and the min/median/max of the per-repetition
ratios contender/baseline (cold), and the median overhead in milliseconds over the baseline,
the min/median/max of the per-repetition differences contender - baseline (ms) and the
ratios (warm). Lower is better; 1.00 = no cost.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RUNNER_SH = ROOT / "src" / "pkgtool" / "runner" / "pkg-run.sh"


def _run(*cmd: str | Path, cwd: Path | None = None) -> None:
    subprocess.run(
        [str(c) for c in cmd],
        check=True,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )


def _timed(cmd: Sequence[str | Path]) -> float:
    start = time.perf_counter()
    _run(*cmd)
    return time.perf_counter() - start


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


Contender = Callable[[Path], list[str]]  # directory to use (fresh for cold) -> command


def _contenders(archive: Path, poncho: Path | None, command: list[str]) -> dict[str, Contender]:
    pkg = shutil.which("pkg", path=str(Path(sys.executable).parent)) or "pkg"
    found: dict[str, Contender] = {
        "pkg run": lambda d: [pkg, "run", "--cache-dir", str(d), str(archive), *command],
        "pkg-run.sh": lambda d: [
            "sh",
            str(RUNNER_SH),
            "--cache-dir",
            str(d),
            str(archive),
            *command,
        ],
        "python -m pkgtool.runner": lambda d: [
            sys.executable,
            "-m",
            "pkgtool.runner",
            "--cache-dir",
            str(d),
            str(archive),
            *command,
        ],
    }
    if poncho is not None:
        found["poncho -u"] = lambda d: ["bash", str(poncho), "-u", str(d), "-e", str(archive),
                                        *command]  # fmt: skip
    return found


def _stats(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def bench(archive: Path, repeat: int, warm_repeat: int, poncho: Path | None) -> None:
    size = archive.stat().st_size / 1e6
    with tempfile.TemporaryDirectory(prefix="pkgtool-bench-", dir="/tmp") as tmp:
        base = Path(tmp)
        cold = _contenders(archive, poncho, ["true"])
        names = ["baseline", *cold]
        times: dict[str, list[float]] = {name: [] for name in names}
        for rep in range(repeat):
            order = names[rep % len(names) :] + names[: rep % len(names)]
            for name in order:
                target = base / f"cold-{rep}-{name.replace(' ', '_')}"
                if name == "baseline":
                    target.mkdir()
                    start = time.perf_counter()
                    _run("tar", "-xzf", archive, "-C", target)
                    _run(target / "bin" / "python", target / "bin" / "conda-unpack")
                    times[name].append(time.perf_counter() - start)
                else:
                    times[name].append(_timed(cold[name](target)))
                if rep < repeat - 1:
                    shutil.rmtree(target, ignore_errors=True)
        print(f"\n{archive.name}: {size:.1f} MB; cold start, {repeat} interleaved repetitions")
        print(f"  {'contender':<26} {'median s':>9}   ratio to baseline min / median / max")
        base_times = times["baseline"]
        print(f"  {'tar -xzf + conda-unpack':<26} {statistics.median(base_times):9.3f}")
        for name in cold:
            ratios = [t / b for t, b in zip(times[name], base_times, strict=True)]
            lo, mid, hi = _stats(ratios)
            print(f"  {name:<26} {statistics.median(times[name]):9.3f}   "
                  f"{lo:.2f} / {mid:.2f} / {hi:.2f}")  # fmt: skip

        last = repeat - 1
        env_python = base / f"cold-{last}-baseline" / "bin" / "python"
        warm = _contenders(archive, poncho, ["python", "-c", "pass"])
        dirs = {name: base / f"cold-{last}-{name.replace(' ', '_')}" for name in warm}
        wtimes: dict[str, list[float]] = {name: [] for name in ["baseline", *warm]}
        for rep in range(warm_repeat):
            order = list(wtimes)
            order = order[rep % len(order) :] + order[: rep % len(order)]
            for name in order:
                if name == "baseline":
                    wtimes[name].append(_timed([env_python, "-c", "pass"]))
                else:
                    wtimes[name].append(_timed(warm[name](dirs[name])))
        wbase = wtimes["baseline"]
        print(f"  warm start, {warm_repeat} interleaved repetitions of `python -c pass`")
        print(f"  {'contender':<26} {'median ms':>9}   overhead ms   "
              "overhead ms min / median / max   ratio min / median / max")  # fmt: skip
        print(f"  {'env bin/python -c pass':<26} {statistics.median(wbase) * 1e3:9.1f}")
        for name in warm:
            ratios = [t / b for t, b in zip(wtimes[name], wbase, strict=True)]
            lo, mid, hi = _stats(ratios)
            overhead = (statistics.median(wtimes[name]) - statistics.median(wbase)) * 1e3
            diffs = [(t - b) * 1e3 for t, b in zip(wtimes[name], wbase, strict=True)]
            dlo, dmid, dhi = _stats(diffs)
            print(f"  {name:<26} {statistics.median(wtimes[name]) * 1e3:9.1f}   "
                  f"{overhead:+11.1f}   {dlo:+9.1f} / {dmid:+6.1f} / {dhi:+6.1f}   "
                  f"        {lo:.2f} / {mid:.2f} / {hi:.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--archive", type=Path, action="append")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--warm-repeat", type=int, default=30)
    parser.add_argument("--poncho", type=Path, help="path of cctools' poncho_package_run")
    args = parser.parse_args()
    archives = args.archive or [_build_example()]
    for archive in archives:
        bench(archive.resolve(), args.repeat, args.warm_repeat, args.poncho)


if __name__ == "__main__":
    main()
