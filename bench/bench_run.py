"""Benchmark the runners: cold and warm start against plain baselines and cctools' poncho.

    python bench/bench_run.py [--archive env.tar.gz ...] [--repeat 7] [--warm-repeat 30]
                              [--poncho PATH/TO/poncho_package_run] [--code-change]

Without --archive it builds the quick-start example with ``--local-python`` (cached in
``bench/.cache``). Every contender runs once per repetition, in an order that rotates from
one repetition to the next (interleaved, so that load changes hit all of them alike):

- cold (fresh cache directory each time, after an untimed ``sync`` so that no contender pays
  for the disk writes of the one before): ``tar -xzf`` + ``bin/python bin/conda-unpack``
  (the baseline: what a user would type), ``pkg run``, ``sh pkg-run.sh`` (``sh`` is dash on
  Debian), ``python -m pkgtool.runner``, and ``poncho_package_run -u DIR`` when ``--poncho``
  names it (cctools; read from a checkout, never copied into this project). When the
  machine's ``zstd`` reads gzip, ``pkg-run.sh`` decodes a ``.tar.gz`` with it; the contender
  ``pkg-run.sh, gzip -d`` is the same run with ``zstd`` hidden from PATH, as on a node
  without it;
- warm (environment already unpacked): the unpacked env's ``bin/python -c pass`` (baseline)
  against the same command through each contender;
- code change on a warm node (``--code-change``; layered archives, docs/runner.md): two
  layered archives A and B are made from the archive (its environment as the env layer, the
  quick-start code as the code layer; B's code has one line more). The cache holds A's
  environment and code; then the first run of B (only B's code layer is new), against the
  warm run of A (baseline) and a full cold run of B in an empty cache, with the bytes the
  run adds to the cache (allocated blocks), per runner.

Prints, per contender, the median seconds and the min/median/max of the per-repetition
ratios contender/baseline (cold), and the median overhead in milliseconds over the baseline,
the min/median/max of the per-repetition differences contender - baseline (ms) and the
ratios (warm). Lower is better; 1.00 = no cost.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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


def _without_zstd(dest: Path) -> str | None:
    """A PATH directory with every command of PATH but zstd, or None when this machine's
    zstd cannot read gzip (pkg-run.sh then decodes gzip with gzip anyway)."""
    zstd = shutil.which("zstd")
    probe = subprocess.run([zstd or "zstd", "-d", "-c", "-q"], input=gzip.compress(b"abc"),
                           capture_output=True, check=False) if zstd else None  # fmt: skip
    if probe is None or probe.stdout != b"abc":
        return None
    dest.mkdir()
    for directory in reversed(os.environ["PATH"].split(os.pathsep)):  # first one wins
        if os.path.isdir(directory):
            for name in os.listdir(directory):
                if name != "zstd":
                    (dest / name).unlink(missing_ok=True)
                    (dest / name).symlink_to(os.path.join(directory, name))
    return str(dest)


def _stats(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def bench(archive: Path, repeat: int, warm_repeat: int, poncho: Path | None) -> None:
    size = archive.stat().st_size / 1e6
    with tempfile.TemporaryDirectory(prefix="pkgtool-bench-", dir="/tmp") as tmp:
        base = Path(tmp)
        cold = _contenders(archive, poncho, ["true"])
        gzip_path = _without_zstd(base / "without-zstd") if archive.name.endswith("gz") else None
        if gzip_path is not None:
            cold["pkg-run.sh, gzip -d"] = lambda d: ["env", f"PATH={gzip_path}",
                                                     *cold["pkg-run.sh"](d)]  # fmt: skip
        names = ["baseline", *cold]
        times: dict[str, list[float]] = {name: [] for name in names}
        for rep in range(repeat):
            order = names[rep % len(names) :] + names[: rep % len(names)]
            for name in order:
                target = base / f"cold-{rep}-{name.replace(' ', '_')}"
                # untimed: the writeback of the previous contender's files (and of the tree
                # it removed) lands here, not on this contender's clock
                _run("sync")
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


# ---------------------------------------------------------------- code change on a warm node


def _layered(archive: Path, code: dict[str, bytes], dest: Path) -> Path:
    """A layered archive (docs/runner.md) with ``archive``'s environment as the env layer and
    ``code`` (relative path -> bytes, under ``pkgtool-code/``) as the code layer; cached."""
    import gzip
    import hashlib
    import io
    import tarfile
    import zlib

    if dest.exists():
        return dest
    env_layer = dest.with_name("env-layer.gz")
    index = _index_of(archive)
    if index is not None and not env_layer.exists():  # already layered: its env layer as is
        with open(archive, "rb") as stream:
            stream.seek(index.env.offset)
            env_layer.write_bytes(stream.read(index.env.length))
    if not env_layer.exists():  # the legacy archive's members, recompressed without end blocks
        packer = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        parts: list[bytes] = []
        with tarfile.open(archive, "r:gz") as source:
            last_end = 0
            for member in source:
                last_end = member.offset_data + -(-member.size // 512) * 512
        with gzip.open(archive, "rb") as raw:
            left = last_end
            while left:
                chunk = raw.read(min(left, 1 << 20))
                left -= len(chunk)
                parts.append(packer.compress(chunk))
        parts.append(packer.flush())
        env_layer.write_bytes(b"".join(parts))
    env_z = env_layer.read_bytes()
    members = io.BytesIO()
    for name, data in sorted(code.items()):
        info = tarfile.TarInfo(f"pkgtool-code/{name}")
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        members.write(info.tobuf(tarfile.PAX_FORMAT) + data + bytes(-len(data) % 512))
    code_z = gzip.compress(members.getvalue(), mtime=0)
    end_z = gzip.compress(bytes(1024), mtime=0)

    def index_member(head: int, pad: int) -> bytes:
        lines, offset = ["pkgtool-layers 1"], head
        for kind, data in (("env", env_z), ("code", code_z), ("end", end_z)):
            lines.append(f"{kind} {hashlib.sha256(data).hexdigest()} {offset} {len(data)}")
            offset += len(data)
        text = "".join(f"{line}\n" for line in lines).encode()
        info = tarfile.TarInfo(".pkgtool/layers")
        info.size, info.mtime, info.mode = len(text), 0, 0o644
        if pad:  # a pax comment moves the length when no length fits its own offsets
            info.pax_headers = {"comment": "x" * pad}
        return gzip.compress(info.tobuf(tarfile.PAX_FORMAT) + text + bytes(-len(text) % 512),
                             mtime=0)  # fmt: skip

    for pad in range(40):
        head = len(index_member(0, pad))
        for guess in range(head - 16, head + 16):
            if len(index_member(guess, pad)) == guess:
                dest.write_bytes(index_member(guess, pad) + env_z + code_z + end_z)
                return dest
    raise RuntimeError("no index length fits its own offsets")


def _index_of(archive: Path) -> Any:
    """The layer index of ``archive`` (``pkgtool.runner._layers.Index``), or ``None``."""
    from pkgtool.runner._layers import read_index

    with open(archive, "rb") as stream:
        return read_index(archive, stream, 0, archive.stat().st_size)


def _allocated(path: Path) -> int:
    from pkgtool.runner._cache import disk_usage

    return disk_usage(path) if path.exists() else 0


def _forget_code(cache: Path, keep: set[str]) -> None:
    """Remove the code layers not in ``keep`` and the records naming them."""
    for entry in cache.iterdir():
        if entry.is_dir() and entry.name not in keep and (entry / "pkgtool-code").is_dir():
            shutil.rmtree(entry)
    for entry in cache.iterdir():
        record = entry.name.startswith(".key-") and not entry.name.endswith(".lock")
        if record and any(not (cache / i).is_dir() for i in entry.read_text().split()):
            entry.unlink()


def _quickstart_code() -> dict[str, bytes]:
    examples = ROOT / "examples" / "quickstart"
    found = sorted(p for p in examples.rglob("*") if p.is_file())
    return {str(p.relative_to(examples)): p.read_bytes() for p in found
            if p.suffix in (".py", ".yaml")}  # fmt: skip


def _ratios(values: list[float], bases: list[float]) -> str:
    lo, mid, hi = _stats([v / b for v, b in zip(values, bases, strict=True)])
    return f"{lo:.3f} / {mid:.3f} / {hi:.3f}"


def bench_code_change(archive: Path, repeat: int) -> None:
    """First run of B on a node holding A (same env layer), per runner; see the module doc."""
    code = _quickstart_code()
    made = archive.stat()  # one cache entry per input archive (name, size, mtime)
    work = HERE / ".cache" / "layered" / f"{archive.name}-{made.st_size}-{made.st_mtime_ns}"
    work.mkdir(parents=True, exist_ok=True)
    first = _layered(archive, code, work / "a.tar.gz")
    changed = {**code, "analysis.py": code["analysis.py"] + b"# edited\n"}
    second = _layered(archive, changed, work / "b.tar.gz")
    size = first.stat().st_size / 1e6
    print(f"\n{archive.name}: code change on a warm node ({size:.1f} MB layered archives A, B; "
          f"same env layer); {repeat} interleaved repetitions")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="pkgtool-bench-", dir="/tmp") as tmp:
        base = Path(tmp)
        warm_cmd = _contenders(first, None, ["true"])
        change_cmd = _contenders(second, None, ["true"])
        names = list(warm_cmd)
        series = ("warm", "change", "cold", "written", "cold_written")
        results = {name: {key: [] for key in series} for name in names}
        caches = {name: base / name.replace(" ", "_") for name in names}
        keep: dict[str, set[str]] = {}
        for name in names:  # the node holds A: its environment and its code
            _run(*warm_cmd[name](caches[name]))
            keep[name] = {p.name for p in caches[name].iterdir() if p.is_dir()}
        for rep in range(repeat):
            for name in names[rep % len(names) :] + names[: rep % len(names)]:
                cache, got = caches[name], results[name]
                got["warm"].append(_timed(warm_cmd[name](cache)))
                before = _allocated(cache)
                got["change"].append(_timed(change_cmd[name](cache)))
                got["written"].append(_allocated(cache) - before)
                _forget_code(cache, keep[name])
                cold = base / f"cold-{rep}-{cache.name}"
                got["cold"].append(_timed(change_cmd[name](cold)))
                got["cold_written"].append(_allocated(cold))
                shutil.rmtree(cold)
        header = ("B first s", "/ warm A: min / med / max", "/ cold B: min / med / max")
        print(f"  {'runner':<26} {header[0]:>9}  {header[1]:>25}  {header[2]:>25}  "
              f"{'written':>9}  {'cold B writes':>13}")  # fmt: skip
        for name in names:
            got = results[name]
            print(f"  {name:<26} {statistics.median(got['change']):9.3f}  "
                  f"{_ratios(got['change'], got['warm']):>25}  "
                  f"{_ratios(got['change'], got['cold']):>25}  "
                  f"{statistics.median(got['written']) / 1e3:6.0f} kB  "
                  f"{statistics.median(got['cold_written']) / 1e6:10.1f} MB")  # fmt: skip
        for label, key in (("warm A", "warm"), ("cold B", "cold")):
            medians = ", ".join(f"{n} {statistics.median(results[n][key]):.3f}" for n in names)
            print(f"  {label} median s: {medians}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--archive", type=Path, action="append")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--warm-repeat", type=int, default=30)
    parser.add_argument("--poncho", type=Path, help="path of cctools' poncho_package_run")
    parser.add_argument(
        "--code-change", action="store_true", help="only the code change on a warm node"
    )
    args = parser.parse_args()
    archives = args.archive or [_build_example()]
    for archive in archives:
        if not args.code_change:
            bench(archive.resolve(), args.repeat, args.warm_repeat, args.poncho)
        bench_code_change(archive.resolve(), args.repeat)


if __name__ == "__main__":
    main()
