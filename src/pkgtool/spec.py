"""The environment spec (``deps.json``, format 1): load, validate, dump, convert.

A spec is a JSON object (DESIGN.md, "The spec")::

    {
      "format": 1,
      "conda": {"channels": [...], "dependencies": ["python=3.11", "pip", {"pip": [...]}]},
      "code": {"root": ".", "include": ["helpers/*.py"], "exclude": []},   # "mode": "auto"
      "env": {"OMP_NUM_THREADS": "1"},
      "analysis": {"python": "3.11.7", "entry_points": [...], "imports": [...]}
    }

The ``conda`` member alone is a valid conda environment file (``conda env create --file``).
``code.root`` is relative to the directory holding the spec file. ``code`` may also be a list
of such objects, one per import root (a script's directory, a project root, a ``src/``
directory): each section's files are importable relative to its own root.
``code.mode`` picks the candidate files (:data:`CODE_MODES`; ``"auto"`` when absent, and then
not written, so specs in auto mode stay readable by pkgtool 0.1): ``include``/``exclude``
refine any mode (docs/builder.md, "Code").

:func:`load_spec` also accepts, and converts to format 1: poncho specs (``conda.packages``,
top-level ``pip``), conda ``environment.yml`` files and pip ``requirements.txt`` files
(:mod:`pkgtool._reqfile`).
Every problem in a spec is reported at once in :class:`~pkgtool.errors.SpecError`.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from pkgtool._files import MAX_SPEC, read_input, write_failed
from pkgtool.errors import SpecError

FORMAT = 1
"""The spec format this version of pkgtool writes and reads."""

DEFAULT_CHANNELS = ("conda-forge",)

_TOP_KEYS = ("format", "conda", "code", "env", "analysis")
_IMPORT_KEYS = ("module", "distribution", "version", "installer", "optional", "sites", "kind")
_INSTALLERS = ("conda", "pip", "local", None)


@dataclass(frozen=True)
class ImportRecord:
    """One imported module the analyzer found.

    ``module`` is the top-level import name as written (``yaml``); ``distribution`` the
    distribution that provides it (``PyYAML``) or None when unknown; ``installer`` is
    ``"conda"`` or ``"pip"`` for third-party code, ``"local"`` for bundled code;
    ``sites`` are ``"relative/file.py:line"`` strings; ``kind`` is how the import was
    written (``"import"``, ``"dynamic"``).
    """

    module: str
    distribution: str | None = None
    version: str | None = None
    installer: str | None = None
    optional: bool = False
    sites: tuple[str, ...] = ()
    kind: str = "import"

    def to_dict(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "installer": self.installer,
            "optional": self.optional,
            "sites": list(self.sites),
            "kind": self.kind,
        }


@dataclass(frozen=True)
class Analysis:
    """What ``pkg analyze`` found; informative, never absolute paths of the analysing host.

    ``environment`` says whose installed distributions gave the versions, e.g.
    ``"VIRTUAL_ENV: .venv (Python 3.11.7)"`` (the environment's directory name only).
    """

    python: str | None = None
    entry_points: tuple[str, ...] = ()
    imports: tuple[ImportRecord, ...] = ()
    environment: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"python": self.python}
        if self.environment is not None:
            out["environment"] = self.environment
        out["entry_points"] = list(self.entry_points)
        out["imports"] = [i.to_dict() for i in self.imports]
        return out


CODE_MODES = ("auto", "git", "all", "none")
"""How a code section picks its candidate files: ``auto`` the files ``include`` names (what
``pkg analyze`` found the script imports), ``git`` the files git tracks under the root
(submodules included), ``all`` every file under the root, ``none`` no code."""


@dataclass(frozen=True)
class CodeSection:
    """Local files to bundle: a mode (:data:`CODE_MODES`) and gitignore-style patterns
    relative to ``root``."""

    root: str = "."
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    mode: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"root": self.root}
        if self.mode != "auto":
            out["mode"] = self.mode
        out["include"] = list(self.include)
        out["exclude"] = list(self.exclude)
        return out


@dataclass(frozen=True)
class Spec:
    """A validated spec. ``dependencies`` are conda MatchSpec strings, ``pip`` PEP 508 strings.

    ``pip_constraints`` (PEP 508) come only from a requirements file's ``-c FILE``: they
    limit the versions the pip resolution may pick and add no requirement. Format 1 has no
    member for them, so :meth:`to_dict` leaves them out (the lock records what they led
    to)."""

    channels: tuple[str, ...] = DEFAULT_CHANNELS
    dependencies: tuple[str, ...] = ()
    pip: tuple[str, ...] = ()
    code: tuple[CodeSection, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    analysis: Analysis | None = None
    pip_constraints: tuple[str, ...] = ()

    @property
    def python_spec(self) -> str | None:
        """The conda MatchSpec that names python, if any (``"python=3.11"``)."""
        for dep in self.dependencies:
            if matchspec_name(dep) == "python":
                return dep
        return None

    def to_dict(self) -> dict[str, Any]:
        deps: list[Any] = list(self.dependencies)
        if self.pip:
            deps.append({"pip": list(self.pip)})
        out: dict[str, Any] = {
            "format": FORMAT,
            "conda": {"channels": list(self.channels), "dependencies": deps},
        }
        if len(self.code) == 1:
            out["code"] = self.code[0].to_dict()
        elif self.code:
            out["code"] = [section.to_dict() for section in self.code]
        if self.env:
            out["env"] = dict(self.env)
        if self.analysis is not None:
            out["analysis"] = self.analysis.to_dict()
        return out

    def to_json(self) -> str:
        """The spec as pretty JSON text with a trailing newline (stable key order)."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: Any, source: str = "spec") -> Spec:
        """Validate a format-1 spec object; raise SpecError listing every problem."""
        problems: list[str] = []
        if not isinstance(data, dict):
            raise SpecError(["the spec must be a JSON object"], source)
        for key in data:
            if key not in _TOP_KEYS:
                problems.append(f"unknown key {key!r} (allowed: {', '.join(_TOP_KEYS)})")
        fmt = data.get("format", FORMAT)
        if fmt != FORMAT:
            problems.append(f"unsupported format {fmt!r} (this pkgtool reads format {FORMAT})")
        channels, deps, pip = _parse_conda(data.get("conda"), problems)
        code = _parse_code(data.get("code"), problems)
        env = _parse_env(data.get("env"), problems)
        analysis = _parse_analysis(data.get("analysis"), problems)
        if problems:
            raise SpecError(problems, source, hint=_HINT_SPEC)
        return cls(channels, deps, pip, code, env, analysis)


_HINT_SPEC = "fix the spec (see `man pkg-create`, section SPEC) or regenerate it with `pkg analyze`"


def matchspec_name(matchspec: str) -> str:
    """The package name of a conda MatchSpec string: ``"numpy=2.1.*"`` -> ``"numpy"``.

    Handles the forms of the conda MatchSpec grammar that name a package
    (``name``, ``name=ver``, ``name ver build``, ``name>=1,<2``, ``channel::name``).
    """
    text = matchspec.strip()
    if "::" in text:
        text = text.split("::", 1)[1]
    for i, ch in enumerate(text):
        if ch in " =<>!~[;":
            return text[:i].strip().lower()
    return text.lower()


_MATCHSPEC = re.compile(
    r"""(?:[A-Za-z0-9_.+/:@%~-]+::)?          # channel[/subdir]::
    [A-Za-z0-9_][A-Za-z0-9_.-]*               # name
    [ ]*[A-Za-z0-9_.*,<>=!~|+() -]*           # version and build
    (?:\[[A-Za-z0-9_.*,<>=!~|+()'"/:@ -]*\])?  # [key=value, ...]
    \Z""",
    re.VERBOSE,
)
"""The characters of the conda MatchSpec grammar (conda docs, "Package match
specifications"): a string with anything else (``;``, ``$``, a backtick, a newline) is
neither a MatchSpec nor safe to hand on."""


def _str_list(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where} must be a list of strings")
        return ()
    return tuple(value)


def _parse_conda(
    conda: Any, problems: list[str]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    if conda is None:
        problems.append("missing required key 'conda'")
        return DEFAULT_CHANNELS, (), ()
    if not isinstance(conda, dict):
        problems.append("'conda' must be an object with 'channels' and 'dependencies'")
        return DEFAULT_CHANNELS, (), ()
    allowed = ("name", "channels", "dependencies", "prefix", "variables")
    for key in conda:
        if key not in allowed:
            problems.append(f"unknown key 'conda.{key}' (allowed: {', '.join(allowed)})")
    channels = _str_list(conda.get("channels"), "'conda.channels'", problems) or DEFAULT_CHANNELS
    deps: list[str] = []
    pip: list[str] = []
    raw = conda.get("dependencies", [])
    if not isinstance(raw, list):
        problems.append("'conda.dependencies' must be a list")
        raw = []
    pip_entries = 0
    for i, dep in enumerate(raw):
        if isinstance(dep, str):
            if not dep.strip() or not matchspec_name(dep):
                problems.append(f"conda.dependencies[{i}]: empty MatchSpec")
            elif not _MATCHSPEC.match(dep.strip()):
                problems.append(f"conda.dependencies[{i}]: invalid MatchSpec {dep.strip()!r}")
            else:
                deps.append(dep.strip())
        elif isinstance(dep, dict) and set(dep) == {"pip"}:
            pip_entries += 1
            for req in _str_list(dep["pip"], f"conda.dependencies[{i}].pip", problems):
                pip.append(_check_requirement(req, f"conda.dependencies[{i}].pip", problems))
        else:
            problems.append(
                f'conda.dependencies[{i}] must be a MatchSpec string or {{"pip": [...]}}'
            )
    if pip_entries > 1:
        problems.append('conda.dependencies holds more than one {"pip": [...]} entry')
    return channels, tuple(deps), tuple(pip)


def _check_requirement(req: str, where: str, problems: list[str]) -> str:
    _is_requirement(req, where, problems)
    return req


def _is_requirement(req: str, where: str, problems: list[str]) -> bool:
    """Whether ``req`` is a PEP 508 requirement; if not, say so in ``problems``."""
    try:
        Requirement(req)
    except InvalidRequirement as exc:
        problems.append(f"{where}: invalid PEP 508 requirement {req!r}: {exc}")
        return False
    return True


def _parse_code(code: Any, problems: list[str]) -> tuple[CodeSection, ...]:
    if code is None:
        return ()
    if isinstance(code, list):
        sections = [_parse_section(c, f"code[{i}]", problems) for i, c in enumerate(code)]
        return tuple(s for s in sections if s is not None)
    section = _parse_section(code, "code", problems)
    return (section,) if section is not None else ()


def _parse_section(code: Any, where: str, problems: list[str]) -> CodeSection | None:
    if not isinstance(code, dict):
        problems.append(f"'{where}' must be an object with 'root', 'mode', 'include', 'exclude'")
        return None
    for key in code:
        if key not in ("root", "mode", "include", "exclude"):
            problems.append(f"unknown key '{where}.{key}' (allowed: root, mode, include, exclude)")
    mode = code.get("mode", "auto")
    if mode not in CODE_MODES:
        problems.append(f"'{where}.mode' must be one of {', '.join(CODE_MODES)}, not {mode!r}")
        mode = "auto"
    root = code.get("root", ".")
    if not isinstance(root, str):
        problems.append(f"'{where}.root' must be a string")
        root = "."
    elif os.path.isabs(root):
        problems.append(f"'{where}.root' must be relative to the spec file, not absolute")
    include = _str_list(code.get("include"), f"'{where}.include'", problems)
    exclude = _str_list(code.get("exclude"), f"'{where}.exclude'", problems)
    return CodeSection(root, include, exclude, mode)


def _parse_env(env: Any, problems: list[str]) -> dict[str, str]:
    if env is None:
        return {}
    if not isinstance(env, dict):
        problems.append("'env' must be an object of NAME: value strings")
        return {}
    out: dict[str, str] = {}
    for name, value in env.items():
        if not name.replace("_", "a").isalnum() or name[:1].isdigit():
            problems.append(f"env: {name!r} is not a valid environment variable name")
        elif not isinstance(value, str):
            problems.append(f"env.{name} must be a string")
        else:
            out[name] = value
    return out


def _parse_analysis(analysis: Any, problems: list[str]) -> Analysis | None:
    if analysis is None:
        return None
    if not isinstance(analysis, dict):
        problems.append("'analysis' must be an object")
        return None
    for key in analysis:
        if key not in ("python", "environment", "entry_points", "imports"):
            problems.append(f"unknown key 'analysis.{key}'")
    python = analysis.get("python")
    if python is not None and not isinstance(python, str):
        problems.append("'analysis.python' must be a version string")
        python = None
    environment = analysis.get("environment")
    if environment is not None and not isinstance(environment, str):
        problems.append("'analysis.environment' must be a string")
        environment = None
    entry = _str_list(analysis.get("entry_points"), "'analysis.entry_points'", problems)
    imports: list[ImportRecord] = []
    raw = analysis.get("imports", [])
    if not isinstance(raw, list):
        problems.append("'analysis.imports' must be a list")
        raw = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("module"), str):
            problems.append(f"analysis.imports[{i}] must be an object with a 'module' string")
            continue
        where = f"analysis.imports[{i}]"
        unknown = [k for k in item if k not in _IMPORT_KEYS]
        if unknown:
            problems.append(f"unknown key '{where}.{unknown[0]}'")
        if item.get("installer") not in _INSTALLERS:
            problems.append(f"{where}.installer must be conda, pip, local or null")
        for key in ("distribution", "version"):
            if not isinstance(item.get(key), (str, type(None))):
                problems.append(f"'{where}.{key}' must be a string or null")
        if not isinstance(item.get("optional", False), bool):
            problems.append(f"'{where}.optional' must be true or false")
        if not isinstance(item.get("kind", "import"), str):
            problems.append(f"'{where}.kind' must be a string")
        sites = _str_list(item.get("sites"), f"'{where}.sites'", problems)
        imports.append(
            ImportRecord(
                module=item["module"],
                distribution=_str_or_none(item.get("distribution")),
                version=_str_or_none(item.get("version")),
                installer=item.get("installer"),
                optional=item.get("optional") is True,
                sites=sites,
                kind=str(item.get("kind", "import")),
            )
        )
    return Analysis(python, entry, tuple(imports), environment)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# --------------------------------------------------------------------------- loading


def load_spec(path: Path) -> Spec:
    """Read a spec file of any accepted kind and return it as a format-1 :class:`Spec`.

    The kind is chosen from the content: a JSON object with ``format`` or a ``conda``
    member holding ``dependencies`` is format 1; a JSON object with ``conda.packages`` or a
    top-level ``pip`` list is a poncho spec; ``.yml``/``.yaml`` files are conda
    environment files; anything else is read as a pip ``requirements.txt``.

    Every input is a regular file of at most :data:`pkgtool._files.MAX_SPEC` bytes
    (requirements files it includes too, :mod:`pkgtool._reqfile`), and names at least one
    dependency.

    Raises:
        InputError: the file cannot be read, is not a regular file or is too large.
        SpecError: the content is not a valid spec (every problem listed), or is empty.
    """
    data = read_input(path, "spec", MAX_SPEC, _HINT_READ)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            [f"not a text file (no UTF-8 at byte {exc.start})"], str(path), hint=_HINT_READ
        ) from exc
    spec = _parse_text(path, text)
    if not spec.dependencies and not spec.pip:
        raise SpecError(
            ["no dependencies at all (not even python)"],
            str(path),
            hint='name what the environment needs, e.g. "dependencies": ["python=3.11"]',
        )
    return spec


_HINT_READ = "pass the deps.json written by `pkg analyze`, an environment.yml or a requirements.txt"


def _parse_text(path: Path, text: str) -> Spec:
    source = str(path)
    stripped = text.lstrip()
    if stripped.startswith("["):
        # No requirements.txt line starts with "[": this is JSON, and not an object.
        raise SpecError(
            ["the spec must be a JSON object, not a JSON array"]
            if _is_json(text)
            else ["not a JSON object, and not a requirements file (a line starts with '[')"],
            source,
            hint=_HINT_SPEC,
        )
    if stripped.startswith("{") or path.suffix == ".json" or _is_json(text):
        data = _load_json(text, source)
        if _is_poncho(data):
            return from_poncho(data, source)
        return Spec.from_dict(data, source)
    if path.suffix in (".yml", ".yaml"):
        return from_environment_yml(text, source)
    reqs, constraints = _requirements(path, text)
    return Spec(DEFAULT_CHANNELS, ("python", "pip"), reqs, pip_constraints=constraints)


def _load_json(text: str, source: str) -> Any:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(
            [f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"],
            source,
            hint=_HINT_SPEC,
        ) from exc
    except RecursionError as exc:
        raise SpecError(["JSON nested too deeply"], source, hint=_HINT_SPEC) from exc
    if not isinstance(data, dict):
        raise SpecError(
            [f"the spec must be a JSON object, not {json.dumps(data)[:40]}"],
            source,
            hint=_HINT_SPEC,
        )
    return data


def _requirements(path: Path, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    from pkgtool._reqfile import read_requirements

    reqs, constraints = read_requirements(path, text)
    if not reqs:
        raise SpecError(
            ["no requirement in this requirements file"],
            str(path),
            hint="add a requirement per line, e.g. numpy==2.1.3",
        )
    return reqs, constraints


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    except RecursionError:  # nested too deeply to be a requirements file either
        return True
    return True


def _is_poncho(data: Any) -> bool:
    if not isinstance(data, dict) or "format" in data:
        return False
    conda = data.get("conda")
    return (isinstance(conda, dict) and "packages" in conda) or any(
        k in data for k in ("pip", "pinned", "git", "http")
    )


def from_poncho(data: dict[str, Any], source: str = "poncho spec") -> Spec:
    """Convert a cctools poncho spec (``conda.channels``, ``conda.packages``, ``pip``).

    ``pinned`` (``{"conda": {name: version}, "pip": {name: version}}``) becomes exact
    pins. ``git`` and ``http`` members (fetched at build time by poncho) are refused:
    they need network access on the build host that pkgtool cannot verify or lock.
    """
    problems: list[str] = []
    for key in data:
        if key not in ("conda", "pip", "pinned", "git", "http"):
            problems.append(f"unknown poncho key {key!r}")
    for key in ("git", "http"):
        if data.get(key):
            problems.append(
                f"poncho '{key}' sources are not supported; vendor them under 'code' instead"
            )
    conda = data.get("conda") or {}
    if not isinstance(conda, dict):
        problems.append("'conda' must be an object")
        conda = {}
    for key in conda:
        if key not in ("channels", "packages"):
            problems.append(f"unknown poncho key 'conda.{key}' (allowed: channels, packages)")
    channels = _str_list(conda.get("channels"), "'conda.channels'", problems) or DEFAULT_CHANNELS
    deps = list(_str_list(conda.get("packages"), "'conda.packages'", problems))
    pip = list(_str_list(data.get("pip"), "'pip'", problems))
    pip = [p for p in pip if _is_requirement(p, "pip", problems)]
    pinned = _parse_pinned(data.get("pinned"), problems)
    for name, version in pinned["conda"].items():
        deps = [d for d in deps if matchspec_name(d) != name.lower()] + [f"{name}={version}"]
    for name, version in pinned["pip"].items():
        pip = [p for p in pip if Requirement(p).name.lower() != name.lower()]
        pip.append(_check_requirement(f"{name}=={version}", f"pinned.pip.{name}", problems))
    if problems:
        raise SpecError(problems, source, hint=_HINT_SPEC)
    if pip and not any(matchspec_name(d) == "pip" for d in deps):
        deps.append("pip")
    return Spec(channels, tuple(deps), tuple(pip))


def _parse_pinned(pinned: Any, problems: list[str]) -> dict[str, dict[str, str]]:
    """poncho's ``pinned``: ``{"conda": {name: version}, "pip": {name: version}}``."""
    out: dict[str, dict[str, str]] = {"conda": {}, "pip": {}}
    if pinned is None:
        return out
    if not isinstance(pinned, dict):
        problems.append("'pinned' must be an object with 'conda' and 'pip' objects")
        return out
    for key, value in pinned.items():
        if key not in out:
            problems.append(f"unknown poncho key 'pinned.{key}' (allowed: conda, pip)")
        elif value is None:
            continue
        elif not isinstance(value, dict):
            problems.append(f"'pinned.{key}' must be an object of name: version strings")
        else:
            for name, version in value.items():
                if not isinstance(version, str) or not version.strip():
                    problems.append(f"'pinned.{key}.{name}' must be a version string")
                else:
                    out[key][name] = version.strip()
    return out


def from_environment_yml(text: str, source: str = "environment.yml") -> Spec:
    """Convert a conda environment file (``name``, ``channels``, ``dependencies``)."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError([f"invalid YAML: {exc}"], source, hint=_HINT_SPEC) from exc
    except RecursionError as exc:
        raise SpecError(["YAML nested too deeply"], source, hint=_HINT_SPEC) from exc
    if not isinstance(data, dict):
        raise SpecError(["an environment file must be a YAML mapping"], source, hint=_HINT_SPEC)
    return Spec.from_dict({"format": FORMAT, "conda": data}, source)


def write_spec(spec: Spec, path: Path) -> None:
    """Write ``spec`` as JSON to ``path`` atomically (temporary name, then rename).

    Raises:
        BuildError: ``path`` cannot be written (disk full, I/O error); nothing is left
            under ``path`` or a temporary name.
    """
    try:
        write_text_atomic(path, spec.to_json())
    except OSError as exc:
        raise write_failed(path, exc) from exc


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file in the same directory +
    ``os.replace``; nothing is left under ``path`` or a temporary name if writing fails."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
