"""Benchmark `pkg analyze` accuracy against pipreqs, pigar and fawltydeps on a labelled corpus.

    python3.11 bench/bench_accuracy.py [--markdown] [--verbose] [--rebuild] [--corpus DIR]
                                       [--setting clean|populated] [--case GLOB] [--check]

Each case is a folder ``bench/corpus/<NN-name>/`` holding input files and ``case.toml``::

    inputs = ["analysis.py"]          # relative to the case folder; "." or a notebook are fine
    args = ["--python-version", "3.12"]  # extra `pkg analyze` arguments (optional)
    expected = ["PyYAML", "numpy"]    # third-party distributions required to run the inputs
    optional = ["scipy"]              # optional imports: never rewarded nor penalised
    categories = ["mapped-names"]     # what the case exercises (for --list)
    git = true                        # the copy gets `git init` (a project root marker)
    note = "..."

Ground truth is written by hand from knowledge of the packages, never from a tool's output.

Tools, each run from its own virtual environment under ``bench/.cache/venvs`` (keyed by a hash
of its requirement list; ``--rebuild`` recreates them), on a fresh temporary copy of the case:

- ``pkgtool``: ``pkg analyze INPUTS - ARGS [--keep-going]``; conda dependencies other than
  python/pip plus the names of the pip requirements;
- ``pipreqs``: ``pipreqs --use-local --mode no-pin --scan-notebooks`` on the copy;
- ``pipreqs-mapping``: pipreqs's own import extraction (``get_all_imports``) mapped through
  the ``mapping`` file it ships, unmapped names kept, its ``stdlib`` file removed;
- ``pigar``: ``pigar generate --question-answer yes --auto-select -c -`` on the copy;
- ``fawltydeps``: ``fawltydeps --check-undeclared --json`` with no declared dependencies
  (see :func:`predict_fawltydeps`).

Settings: ``clean`` (only the tool in its venv) and ``populated`` (the same plus
:data:`POPULATED`). Venvs are built with network; every tool invocation runs offline under
``unshare --net`` (root, Linux). Scores are micro-averaged over cases: true/false positives
and false negatives summed, optional names dropped from predictions, names compared PEP 503
normalized. A crash (non-zero exit without output, timeout) predicts nothing for that case.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import fnmatch
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPUS = HERE / "corpus"
VENVS = HERE / ".cache" / "venvs"
TIMEOUT = 300.0
"""Seconds one tool may take on one case before it counts as a crash."""

POPULATED = (
    "numpy", "pandas", "scipy", "matplotlib", "scikit-learn", "Pillow", "opencv-python",
    "PyYAML", "requests", "beautifulsoup4", "lxml", "python-dateutil", "python-dotenv",
    "attrs", "protobuf", "ruamel.yaml", "GitPython", "PyGithub", "PyJWT", "pycryptodome",
    "pyzmq", "h5py", "netCDF4", "xarray", "dask", "distributed", "astropy", "biopython",
    "tqdm", "click", "networkx", "SQLAlchemy", "seaborn", "psutil",
)  # fmt: skip
"""Third-party distributions of the corpus added in the ``populated`` setting: common ones
that install quickly from wheels (no torch, tensorflow or CUDA stacks)."""


def normalize(name: str) -> str:
    """PEP 503 normalized form of a distribution name (``Ruamel_YAML`` -> ``ruamel-yaml``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def requirement_name(line: str) -> str | None:
    """The distribution name at the start of a requirement or MatchSpec line, if any."""
    line = line.split("#", 1)[0]
    match = _NAME.match(line)
    return match.group(1) if match else None


# -- the corpus ------------------------------------------------------------------------------


CASE_KEYS = frozenset(
    {"inputs", "args", "expected", "optional", "categories", "git", "note", "source"}
)
"""``source`` names third-party code at a pinned commit (see ``bench/fetch_corpus.py``)."""


@dataclass(frozen=True)
class Case:
    """One corpus case; ``expected`` and ``optional`` hold normalized distribution names."""

    name: str
    directory: Path
    inputs: tuple[str, ...]
    args: tuple[str, ...]
    expected: frozenset[str]
    optional: frozenset[str]
    categories: tuple[str, ...]
    git: bool
    note: str

    @classmethod
    def from_dir(cls, directory: Path) -> Case:
        """Read ``directory/case.toml``; raise ValueError naming the file on a bad key."""
        path = directory / "case.toml"
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        unknown = sorted(set(data) - CASE_KEYS)
        if unknown:
            raise ValueError(f"{path}: unknown keys {unknown}")
        return cls(
            name=directory.name,
            directory=directory,
            inputs=tuple(data["inputs"]),
            args=tuple(data.get("args", ())),
            expected=frozenset(normalize(n) for n in data["expected"]),
            optional=frozenset(normalize(n) for n in data.get("optional", ())),
            categories=tuple(data.get("categories", ())),
            git=bool(data.get("git", False)),
            note=str(data.get("note", "")),
        )


def load_cases(corpus: Path, pattern: str = "*") -> list[Case]:
    """Every case folder of ``corpus`` whose name matches the glob ``pattern``, sorted."""
    dirs = sorted(p for p in corpus.iterdir() if (p / "case.toml").is_file())
    return [Case.from_dir(d) for d in dirs if fnmatch.fnmatch(d.name, pattern)]


def copy_case(case: Case, scratch: Path) -> Path:
    """Copy the case's files (not ``case.toml``) to ``scratch/<name>`` and return that path."""
    work = scratch / case.name
    shutil.copytree(case.directory, work, ignore=shutil.ignore_patterns("case.toml"))
    if case.git:
        subprocess.run(["git", "init", "-q", str(work)], check=True)
    return work


# -- virtual environments --------------------------------------------------------------------


@dataclass(frozen=True)
class VenvSpec:
    """A cached virtual environment: ``requirements`` are ``pip install`` arguments."""

    family: str
    requirements: tuple[str, ...]

    def key(self, python: str) -> str:
        """Hash of the interpreter, the requirement list and, for an editable install of this
        project, its declared dependencies (their change needs a new venv; code does not)."""
        lines = [python, *self.requirements]
        if "-e" in self.requirements:
            project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
            lines += project["project"]["dependencies"]
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]


def ensure_venv(spec: VenvSpec, python: str, rebuild: bool) -> Path:
    """Create (with network) and return the venv for ``spec``, reusing a complete cached one;
    venvs of the same family with another key are removed."""
    path = VENVS / f"{spec.family}-{spec.key(python)}"
    done = path / ".complete"
    if done.exists() and not rebuild:
        return path
    for stale in VENVS.glob(f"{spec.family}-*"):
        if stale.name.rsplit("-", 1)[0] == spec.family:
            shutil.rmtree(stale)
    print(f"building {path.name} ({len(spec.requirements)} requirement args) ...", file=sys.stderr)
    subprocess.run([python, "-m", "venv", str(path)], check=True)
    pip = [str(path / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, *spec.requirements], check=True)
    done.write_text(json.dumps(list(spec.requirements)) + "\n", encoding="utf-8")
    return path


# -- running tools offline -------------------------------------------------------------------


class ToolCrashError(Exception):
    """A tool exited with an error, timed out or wrote nothing usable for a case."""


OFFLINE = ("unshare", "--net")


def check_offline() -> None:
    """Exit with a hint unless ``unshare --net`` works here (root on Linux)."""
    try:
        subprocess.run([*OFFLINE, "true"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(
            f"error: `unshare --net true` failed ({exc}); hint: run as root on Linux"
        ) from exc


def run_offline(
    cmd: Sequence[str | Path], cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` in a fresh network namespace (no route to PyPI), with ``env`` added to
    this process's environment; raise ToolCrashError on a timeout."""
    try:
        return subprocess.run(
            [*OFFLINE, *map(str, cmd)],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolCrashError(f"timeout after {TIMEOUT:.0f} s") from exc


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "(no output)"


def read_requirements(path: Path) -> list[str]:
    """Distribution names in a requirements file (comments and blank lines skipped)."""
    if not path.is_file():
        return []
    names = (requirement_name(line) for line in path.read_text(encoding="utf-8").splitlines())
    return [n for n in names if n]


@dataclass(frozen=True)
class Tool:
    """A tool under test: ``predict(venv, work, case)`` returns distribution names or raises
    ToolCrashError; ``family`` and ``requirements`` describe its clean venv."""

    name: str
    family: str
    requirements: tuple[str, ...]
    predict: Callable[[Path, Path, Case], list[str]]


@functools.cache
def _pkgtool_keep_going(venv: Path) -> bool:
    """Whether this pkgtool has ``--keep-going`` (an option added while the corpus grew)."""
    help_ = subprocess.run(
        [str(venv / "bin" / "pkg"), "analyze", "--help"],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "TERM": "dumb", "PATH": "/usr/bin:/bin"},
    )
    return "--keep-going" in help_.stdout


def predict_pkgtool(venv: Path, work: Path, case: Case) -> list[str]:
    """``pkg analyze``: conda dependencies except python/pip, plus pip requirement names."""
    cmd = [venv / "bin" / "pkg", "analyze", *case.inputs, "-", *case.args]
    if _pkgtool_keep_going(venv):
        cmd.append("--keep-going")
    # A scan cache of its own per case: every run is a cold first run, as for a new user.
    # The setting's venv is the user's active environment (pkgtool reads versions from
    # $VIRTUAL_ENV, else $CONDA_PREFIX, else python3 on PATH): name it, so the host's
    # python3 never counts.
    env = {"PKG_ANALYZE_CACHE_DIR": str(work.parent / "pkg-cache"), "VIRTUAL_ENV": str(venv)}
    env["CONDA_PREFIX"] = ""
    proc = run_offline(cmd, work, env)
    try:
        spec = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise ToolCrashError(f"exit {proc.returncode}: {_last_line(proc.stderr)}") from exc
    names: list[str] = []
    for dep in spec["conda"]["dependencies"]:
        if isinstance(dep, dict):
            names.extend(n for n in map(requirement_name, dep.get("pip", ())) if n)
        elif (name := requirement_name(dep)) and name not in ("python", "pip"):
            names.append(name)
    return names


def predict_pipreqs(venv: Path, work: Path, case: Case) -> list[str]:
    """``pipreqs --use-local --mode no-pin --scan-notebooks`` on the case copy."""
    out = work.parent / "pipreqs-requirements.txt"
    cmd = [venv / "bin" / "pipreqs", "--use-local", "--mode", "no-pin", "--scan-notebooks"]
    proc = run_offline([*cmd, "--savepath", out, work], work)
    if proc.returncode != 0:
        raise ToolCrashError(f"exit {proc.returncode}: {_last_line(proc.stderr)}")
    return read_requirements(out)


_PIPREQS_MAPPING = """\
import sys
import pipreqs.pipreqs as p
p.scan_noteboooks = True  # sic: pipreqs's spelling
p.handle_scan_noteboooks()
print("\\n".join(p.get_pkg_names(p.get_all_imports(sys.argv[1]))))
"""


def predict_pipreqs_mapping(venv: Path, work: Path, case: Case) -> list[str]:
    """pipreqs's import extraction and stdlib list, then its ``mapping`` file alone."""
    proc = run_offline([venv / "bin" / "python", "-c", _PIPREQS_MAPPING, work], work)
    if proc.returncode != 0:
        raise ToolCrashError(f"exit {proc.returncode}: {_last_line(proc.stderr)}")
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()]


def predict_pigar(venv: Path, work: Path, case: Case) -> list[str]:
    """``pigar generate``, answering its questions without a prompt. Offline its PyPI lookup
    of names not installed fails, and pigar then leaves those names out."""
    out = work.parent / "pigar-requirements.txt"
    cmd = [venv / "bin" / "pigar", "generate", "--question-answer", "yes", "--auto-select"]
    cmd += ["-c", "-", "--dont-show-differences", "-f", out, work]
    proc = run_offline(cmd, work)
    if proc.returncode != 0 or not out.is_file():
        raise ToolCrashError(f"exit {proc.returncode}: {_last_line(proc.stderr or proc.stdout)}")
    return read_requirements(out)


def predict_fawltydeps(venv: Path, work: Path, case: Case) -> list[str]:
    """``fawltydeps --check-undeclared --json`` on the inputs with no declared dependencies,
    so that every third-party import is reported as undeclared. Each undeclared import
    contributes the distributions its venv says provide it (``candidates``, FawltyDeps's
    local-environment mapping), else the import name itself (its identity mapping)."""
    empty = work.parent / "fawltydeps-no-deps"
    empty.mkdir(exist_ok=True)
    cmd = [venv / "bin" / "fawltydeps", "--check-undeclared", "--json", "--code", *case.inputs]
    proc = run_offline([*cmd, "--deps", empty, "--pyenv", venv], work)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise ToolCrashError(f"exit {proc.returncode}: {_last_line(proc.stderr)}") from exc
    names: list[str] = []
    for dep in report.get("undeclared_deps", ()):
        names.extend(dep.get("candidates") or [dep["name"]])
    return names


TOOLS = (
    Tool("pkgtool", "pkgtool", ("-e", str(ROOT)), predict_pkgtool),
    Tool("pipreqs", "pipreqs", ("pipreqs",), predict_pipreqs),
    Tool("pipreqs-mapping", "pipreqs", ("pipreqs",), predict_pipreqs_mapping),
    Tool("pigar", "pigar", ("pigar",), predict_pigar),
    Tool("fawltydeps", "fawltydeps", ("fawltydeps",), predict_fawltydeps),
)
SETTINGS = ("clean", "populated")


def venv_spec(tool: Tool, setting: str) -> VenvSpec:
    """The venv a tool runs from in a setting."""
    extra = POPULATED if setting == "populated" else ()
    return VenvSpec(f"{tool.family}-{setting}", (*tool.requirements, *extra))


# -- scoring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One tool on one case: normalized predictions after optional names were dropped."""

    case: Case
    predicted: frozenset[str]
    crash: str | None = None

    @property
    def missed(self) -> frozenset[str]:
        return self.case.expected - self.predicted

    @property
    def extra(self) -> frozenset[str]:
        return self.predicted - self.case.expected


def run_case(tool: Tool, venv: Path, case: Case) -> Outcome:
    """Run ``tool`` on a fresh copy of ``case``; a crash predicts nothing."""
    with tempfile.TemporaryDirectory(prefix="pkgtool-bench-") as scratch:
        work = copy_case(case, Path(scratch))
        try:
            raw = tool.predict(venv, work, case)
        except ToolCrashError as exc:
            return Outcome(case, frozenset(), str(exc))
    predicted = frozenset(normalize(n) for n in raw) - case.optional
    return Outcome(case, predicted)


@dataclass
class Score:
    """Micro-averaged counts of one tool in one setting."""

    tool: str
    setting: str
    outcomes: list[Outcome] = field(default_factory=list)

    def _sum(self, part: Callable[[Outcome], int]) -> int:
        return sum(part(o) for o in self.outcomes)

    @property
    def tp(self) -> int:
        return self._sum(lambda o: len(o.predicted & o.case.expected))

    @property
    def fp(self) -> int:
        return self._sum(lambda o: len(o.extra))

    @property
    def fn(self) -> int:
        return self._sum(lambda o: len(o.missed))

    @property
    def crashes(self) -> int:
        return sum(o.crash is not None for o in self.outcomes)

    @property
    def precision(self) -> float | None:
        """None when the tool predicted nothing at all (undefined)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        """None when no case expects anything (undefined)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float:
        """2TP / (2TP + FP + FN): the harmonic mean of precision and recall, 1.0 when there
        was nothing to find and nothing was predicted."""
        wrong = self.fp + self.fn
        return 2 * self.tp / (2 * self.tp + wrong) if self.tp or wrong else 1.0


def score(tool: Tool, setting: str, cases: Sequence[Case], venv: Path) -> Score:
    """Run one tool from ``venv`` over every case in one setting (two cases at a time)."""
    print(f"running {tool.name} ({setting}) on {len(cases)} cases ...", file=sys.stderr)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda c: run_case(tool, venv, c), cases))
    return Score(tool.name, setting, outcomes)


# -- reports ---------------------------------------------------------------------------------

HEADER = ("setting", "tool", "precision", "recall", "F1", "TP", "FP", "FN", "crashes")


def table_rows(scores: Iterable[Score]) -> list[tuple[str, ...]]:
    """One row of strings per score, in HEADER order."""
    return [
        (s.setting, s.tool, _ratio(s.precision), _ratio(s.recall), _ratio(s.f1),
         str(s.tp), str(s.fp), str(s.fn), str(s.crashes))
        for s in scores
    ]  # fmt: skip


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def render_table(rows: Sequence[tuple[str, ...]], markdown: bool) -> str:
    """The rows as aligned text, or as a Markdown table."""
    widths = [max(len(r[i]) for r in (HEADER, *rows)) for i in range(len(HEADER))]
    if markdown:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*r) for r in (HEADER, *rows))


def render_misses(score: Score) -> str:
    """Every case where ``score``'s tool missed, added a name or crashed."""
    lines = [f"{score.tool} misses ({score.setting}):"]
    for o in score.outcomes:
        if o.missed or o.extra or o.crash:
            lines.append(f"  {o.case.name}: expected {sorted(o.case.expected)}")
            lines.append(f"    predicted {sorted(o.predicted)}")
            lines.append(f"    missed {sorted(o.missed)} extra {sorted(o.extra)}")
            if o.crash:
                lines.append(f"    crash: {o.crash}")
    if len(lines) == 1:
        lines.append("  none")
    return "\n".join(lines)


def render_categories(cases: Sequence[Case]) -> str:
    """How many cases exercise each category (a case may count in several)."""
    counts = Counter(c for case in cases for c in case.categories)
    lines = [f"{len(cases)} cases; per category:"]
    lines += [f"  {name:<22} {n}" for name, n in sorted(counts.items())]
    return "\n".join(lines)


def targets_met(scores: Sequence[Score]) -> bool:
    """pkgtool F1 >= 0.97 clean, and above every other tool in every setting run."""
    ok = True
    for setting in {s.setting for s in scores}:
        ours = [s for s in scores if s.setting == setting and s.tool == "pkgtool"]
        others = [s for s in scores if s.setting == setting and s.tool != "pkgtool"]
        if not ours:
            continue
        ok &= all(ours[0].f1 > s.f1 for s in others)
        ok &= setting != "clean" or ours[0].f1 >= 0.97
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=SETTINGS, action="append")
    parser.add_argument("--tool", choices=[t.name for t in TOOLS], action="append")
    parser.add_argument("--case", default="*", help="glob over case folder names")
    parser.add_argument(
        "--corpus", type=Path, default=CORPUS, help="corpus folder (default bench/corpus)"
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter for the venvs")
    parser.add_argument("--rebuild", action="store_true", help="recreate the cached venvs")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--verbose", action="store_true", help="list pkgtool's misses")
    parser.add_argument("--list", action="store_true", help="list categories and exit")
    parser.add_argument("--check", action="store_true", help="exit 1 if targets are not met")
    args = parser.parse_args(argv)

    cases = load_cases(args.corpus, args.case)
    if args.list:
        print(render_categories(cases))
        return 0
    check_offline()
    tools = [t for t in TOOLS if not args.tool or t.name in args.tool]
    runs = [(tool, setting) for setting in args.setting or SETTINGS for tool in tools]
    specs = {venv_spec(tool, setting) for tool, setting in runs}
    venvs = {spec: ensure_venv(spec, args.python, args.rebuild) for spec in specs}
    scores = [
        score(tool, setting, cases, venvs[venv_spec(tool, setting)]) for tool, setting in runs
    ]
    print(render_table(table_rows(scores), args.markdown))
    if args.verbose:
        print()
        print(render_categories(cases))
        for s in scores:
            if s.tool == "pkgtool":
                print()
                print(render_misses(s))
    met = targets_met(scores)
    print(
        f"\ntargets (F1 >= 0.97 clean, best tool in every setting): {'met' if met else 'NOT met'}"
    )
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
