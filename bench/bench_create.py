"""Benchmark `pkg create` against a hand-written rattler + pip + conda-pack script, as ratios.

    python bench/bench_create.py [--repeat 3]

Both build the quick-start example (python and pip from one local conda channel made once
from this interpreter; numpy and PyYAML from the package index, pip's own wheel cache warm
for both) and pack ``.tar.gz`` at level 4 with all cores. Contenders are interleaved in
every repetition, so machine load hits them alike. Per repetition:

- cold: ``pkg create`` with an empty build cache vs. the script with an empty rattler cache;
- warm: both with warm caches, ``pkg create`` not allowed a cache hit (a new
  ``SOURCE_DATE_EPOCH`` each time changes the archive's key, not its resolution or layers);
- cache hit: ``pkg create`` of an unchanged spec vs. its own cold build;
- pip change: one more pip requirement (six) vs. its own cold build, with where the seconds
  of both go (``pkg create --json`` step times, medians);
- per format: archive size, and the cold start (fresh cache) of ``tar -x`` + conda-unpack,
  ``pkg run`` and ``pkg-run.sh`` (``./env.sh`` for the self-extracting file), medians of 3.

Prints min / median / max of the per-repetition ratios (lower is better).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

BASELINE = r"""
import asyncio, json, os, subprocess, sys
import rattler, conda_pack

channel, cache, prefix, out, reqs = sys.argv[1:6]

async def main():
    gateway = rattler.Gateway(cache_dir=os.path.join(cache, "repodata"))
    records = await rattler.solve(
        sources=[rattler.Channel(channel)], specs=["python=3.11", "pip"], gateway=gateway,
        platforms=[rattler.Platform.current(), rattler.Platform("noarch")],
        virtual_packages=rattler.VirtualPackage.detect())
    await rattler.install(records, target_prefix=prefix, cache_dir=os.path.join(cache, "pkgs"),
                          execute_link_scripts=False, show_progress=False)

asyncio.run(main())
subprocess.run([sys.executable, "-m", "pip", "--python", os.path.join(prefix, "bin", "python"),
                "install", "-q", *json.loads(reqs)], check=True)
conda_pack.pack(prefix=prefix, output=out, format="tar.gz", compress_level=4,
                n_threads=os.cpu_count(), force=True)
sys.stdout.flush()
os._exit(0)
"""


def _timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None,
           steps: dict[str, list[float]] | None = None) -> float:  # fmt: skip
    """Seconds ``cmd`` took; with ``steps`` (``pkg create`` only) its ``--json`` step times
    are appended there, by step (counts dropped from the names)."""
    if steps is not None:
        cmd = [*cmd, "--json"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, check=False)  # fmt: skip
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    if steps is not None:
        for step in json.loads(proc.stdout)["steps"]:
            name = re.sub(r"^writing \S+$", "writing the archive", step["step"])
            name = re.sub(r"\d+", "N", re.sub(r"^packing .*", "packing", name))
            name = name.split(" (")[0]
            name = re.sub(r"\b(file|distribution|package|requirement|import)\b", r"\1s", name)
            steps.setdefault(name, []).append(step["seconds"])
        steps.setdefault("(whole command)", []).append(elapsed)
    return elapsed


def _setup(work: Path) -> tuple[str, Path, list[str]]:
    """A local channel (python + pip from this interpreter) and the example's spec."""
    sys.path.insert(0, str(ROOT / "src"))
    from pkgtool.builder import channel

    host = channel.inspect_interpreter(Path(sys.executable)).executable
    version = channel.inspect_interpreter(host).version
    wheels = channel.download_wheels(["pip"], work / "wheels", version)
    url = channel.build_channel(work / "channel", host, wheels)
    project = work / "project"
    shutil.copytree(ROOT / "examples" / "quickstart", project)
    pkg = [sys.executable, "-m", "pkgtool"]
    subprocess.run([*pkg, "analyze", "analysis.py", "deps.json"], cwd=project, check=True,
                   capture_output=True)  # fmt: skip
    spec = json.loads((project / "deps.json").read_text())
    spec["conda"]["channels"] = [url]
    (project / "deps.json").write_text(json.dumps(spec))
    pip = next(d for d in spec["conda"]["dependencies"] if isinstance(d, dict))["pip"]
    spec["conda"]["dependencies"][-1]["pip"] = [*pip, "six"]
    (project / "more.json").write_text(json.dumps(spec))
    return url, project, pip


def _unpack_time(archive: Path, work: Path) -> float:
    dest = Path(tempfile.mkdtemp(dir=work))
    flag = "--zstd" if archive.name.endswith(".zst") else "-z"
    start = time.perf_counter()
    subprocess.run(["tar", "-x", flag, "-f", str(archive), "-C", str(dest)], check=True)
    subprocess.run([str(dest / "bin" / "python"), str(dest / "bin" / "conda-unpack")], check=True)
    elapsed = time.perf_counter() - start
    shutil.rmtree(dest)
    return elapsed


def _cold_run(runner: list[str], archive: Path, work: Path) -> float:
    """Seconds for ``runner`` to start ``python -c pass`` from ``archive`` on an empty cache."""
    cache = Path(tempfile.mkdtemp(dir=work))
    if archive.name.endswith(".sh") and runner[0] == "sh":  # the file is its own sh runner
        cmd = ["sh", str(archive), "--cache-dir", str(cache), "python", "-c", "pass"]
    else:
        cmd = [*runner, "--cache-dir", str(cache), str(archive), "python", "-c", "pass"]
    elapsed = _timed(cmd, work)
    shutil.rmtree(cache)
    return elapsed


def _row(name: str, ratios: list[float], note: str = "") -> str:
    return (f"| {name} | {min(ratios):.2f} | {statistics.median(ratios):.2f} | "
            f"{max(ratios):.2f} | {note} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pkgtool-bench-create-"))
    try:
        url, project, pip = _setup(work)
        pkg = [sys.executable, "-m", "pkgtool", "create"]
        baseline = [sys.executable, "-c", BASELINE, url]
        ratios: dict[str, list[float]] = {k: [] for k in ("cold", "warm", "hit", "pip")}
        times: dict[str, list[float]] = {}
        cold_steps: dict[str, list[float]] = {}
        pip_steps: dict[str, list[float]] = {}
        warm_cache, warm_rattler = work / "warm-cache", work / "warm-rattler"
        for rep in range(args.repeat):
            c = work / f"cold-{rep}"
            c.mkdir()
            t_pkg = _timed([*pkg, "--cache-dir", str(c / "pkg"), "deps.json", str(c / "a.tar.gz")],
                           project, steps=cold_steps)  # fmt: skip
            t_base = _timed([*baseline, str(c / "r"), str(c / "prefix"), str(c / "b.tar.gz"),
                             json.dumps(pip)], project)  # fmt: skip
            t_hit = _timed([*pkg, "--cache-dir", str(c / "pkg"), "deps.json", str(c / "h.tar.gz")],
                           project)  # fmt: skip
            t_pip = _timed([*pkg, "--cache-dir", str(c / "pkg"), "more.json", str(c / "m.tar.gz")],
                           project, steps=pip_steps)  # fmt: skip
            epoch = {"SOURCE_DATE_EPOCH": str(1_700_000_000 + rep)}
            if rep == 0:  # fill the warm caches once
                _timed([*pkg, "--cache-dir", str(warm_cache), "deps.json", str(c / "w.tar.gz")],
                       project, {"SOURCE_DATE_EPOCH": "1"})  # fmt: skip
                _timed([*baseline, str(warm_rattler), str(c / "wp0"), str(c / "w0.tar.gz"),
                        json.dumps(pip)], project)  # fmt: skip
            w_pkg = _timed([*pkg, "--cache-dir", str(warm_cache), "deps.json",
                            str(c / "w.tar.gz")], project, epoch)  # fmt: skip
            w_base = _timed([*baseline, str(warm_rattler), str(c / "wp"), str(c / "wb.tar.gz"),
                             json.dumps(pip)], project)  # fmt: skip
            for key, value in (("pkg cold", t_pkg), ("script cold", t_base), ("pkg hit", t_hit),
                               ("pkg pip change", t_pip), ("pkg warm", w_pkg),
                               ("script warm", w_base)):  # fmt: skip
                times.setdefault(key, []).append(value)
            ratios["cold"].append(t_pkg / t_base)
            ratios["warm"].append(w_pkg / w_base)
            ratios["hit"].append(t_hit / t_pkg)
            ratios["pip"].append(t_pip / t_pkg)
            shutil.rmtree(c / "prefix", ignore_errors=True)
        print("| ratio | min | median | max | target |")
        print("|---|---|---|---|---|")
        print(_row("cold pkg create / cold script", ratios["cold"], "<= 1.2"))
        print(_row("warm pkg create (no hit) / warm script", ratios["warm"], "<= 1.1"))
        print(_row("cache hit / cold pkg create", ratios["hit"], "<= 0.1"))
        print(_row("pip change / cold pkg create", ratios["pip"], "<= 0.5"))
        print()
        print("| timing (s) | min | median | max |")
        print("|---|---|---|---|")
        for key, values in times.items():
            print(f"| {key} | {min(values):.1f} | {statistics.median(values):.1f} | "
                  f"{max(values):.1f} |")  # fmt: skip
        print()
        print("| step (median s) | cold | pip change |")
        print("|---|---|---|")
        for name in [*cold_steps, *(n for n in pip_steps if n not in cold_steps)]:
            cells = [f"{statistics.median(d[name]):.2f}" if name in d else "-"
                     for d in (cold_steps, pip_steps)]  # fmt: skip
            print(f"| {name} | {' | '.join(cells)} |")
        print()
        sys.path.insert(0, str(ROOT / "src"))
        from pkgtool.runner import runner_script

        runners = {"pkg run": [sys.executable, "-m", "pkgtool", "run"],
                   "pkg-run.sh": ["sh", str(runner_script())]}  # fmt: skip
        print("| format | size (MB) | tar -x + conda-unpack (s) | pkg run cold (s) | "
              "pkg-run.sh cold (s) |")  # fmt: skip
        print("|---|---|---|---|---|")
        for suffix in (".tar.gz", ".tar.zst", ".sh"):
            out = work / f"fmt{suffix}"
            _timed([*pkg, "--cache-dir", str(warm_cache), "deps.json", str(out)], project)
            cells = []
            for name in ("tar", "pkg run", "pkg-run.sh"):
                if name == "tar":
                    runs = [] if suffix == ".sh" else [_unpack_time(out, work) for _ in range(3)]
                else:
                    runs = [_cold_run(runners[name], out, work) for _ in range(3)]
                cells.append(f"{statistics.median(runs):.2f}" if runs else "-")
            print(f"| {suffix} | {out.stat().st_size / 1e6:.1f} | {' | '.join(cells)} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
