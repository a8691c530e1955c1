"""Code selection (modes auto/git/all/none, patterns, default excludes, errors) and the
code layer's bytes, on real files and a real git repository; no environment is built."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from pkgtool.builder import _layers, code
from pkgtool.errors import InputError, UsageError
from pkgtool.spec import CodeSection


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


PROJECT = {
    "job.py": "import helpers\n",
    "helpers/__init__.py": "X = 1\n",
    "helpers/io.py": "Y = 2\n",
    "configs/run.yaml": "a: 1\n",
    "notes.txt": "scratch\n",
    "__pycache__/job.cpython-311.pyc": "bytecode",
    "helpers/__pycache__/io.cpython-311.pyc": "bytecode",
    "stale.pyc": "bytecode",
    ".venv/pyvenv.cfg": "home = /usr\n",
    ".venv/lib/site.py": "venv\n",
    "prefix/conda-meta/history": "",
    "prefix/bin/tool": "conda prefix\n",
    "cache/CACHEDIR.TAG": "Signature: 8a477f597d28d172789f06886806bc55\n",
    "cache/blob": "cached\n",
    "env.tar.gz": "archive",
    "env.lock.json": "{}",
    "old.tar.zst": "archive",
    "env.sh": "#!/bin/sh\n# pkg-run.sh - run a command inside a pkgtool environment archive\n",
    "run.sh": "#!/bin/sh\necho a script of the user\n",
    ".pytest_cache/x": "cache",
}
SOURCES = [
    "configs/run.yaml", "helpers/__init__.py", "helpers/io.py", "job.py", "notes.txt", "run.sh",
]  # fmt: skip


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=root, check=True, capture_output=True,
    )  # fmt: skip


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return _tree(tmp_path / "project", PROJECT)


def test_all_mode_takes_every_file_but_the_default_excludes(project: Path) -> None:
    assert code.select_files(CodeSection(mode="all"), project) == SOURCES


def test_git_mode_takes_tracked_files_with_submodules(project: Path, tmp_path: Path) -> None:
    sub = _tree(tmp_path / "sub", {"vendored/lib.py": "Z = 3\n"})
    _git(sub, "init", "-q")
    _git(sub, "add", ".")
    _git(sub, "commit", "-qm", "sub")
    _git(project, "init", "-q")
    (project / ".gitignore").write_text("notes.txt\n")
    _git(project, "add", "job.py", "helpers", "configs", ".gitignore", "env.lock.json", "stale.pyc")
    _git(project, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "ext")
    _git(project, "commit", "-qm", "project")
    (project / "untracked.py").write_text("not tracked\n")
    files = code.select_files(CodeSection(mode="git"), project)
    assert files == [".gitignore", ".gitmodules", "configs/run.yaml", "ext/vendored/lib.py",
                     "helpers/__init__.py", "helpers/io.py", "job.py"]  # fmt: skip
    narrowed = CodeSection(mode="git", include=("*.py",), exclude=("ext/",))
    assert code.select_files(narrowed, project) == [
        "helpers/__init__.py",
        "helpers/io.py",
        "job.py",
    ]


def test_git_mode_outside_a_repository_is_an_input_error(project: Path) -> None:
    with pytest.raises(InputError, match="not in a git work tree"):
        code.select_files(CodeSection(mode="git"), project)


def test_auto_mode_takes_what_include_names(project: Path) -> None:
    section = CodeSection(include=("job.py", "helpers/*.py", "__pycache__/*"))
    with pytest.raises(InputError, match=r"include pattern '__pycache__/\*' matches no file"):
        code.select_files(section, project)
    section = CodeSection(include=("job.py", "helpers/*.py"))
    assert code.select_files(section, project) == ["helpers/__init__.py", "helpers/io.py", "job.py"]
    assert code.select_files(CodeSection(), project) == []


def test_patterns_refine_and_must_match(project: Path) -> None:
    section = CodeSection(
        mode="all", include=("*.py", "configs/*.yaml"), exclude=("helpers/io.py",)
    )
    assert code.select_files(section, project) == [
        "configs/run.yaml",
        "helpers/__init__.py",
        "job.py",
    ]
    with pytest.raises(InputError, match="exclude pattern 'nothing/' matches no file"):
        code.select_files(CodeSection(mode="all", exclude=("nothing/",)), project)
    with pytest.raises(InputError, match=r"include pattern '\*.cfg' matches no file"):
        code.select_files(CodeSection(mode="all", include=("*.cfg",)), project)


def test_none_mode_and_an_empty_selection(project: Path, tmp_path: Path) -> None:
    assert code.collect([CodeSection(mode="none", root="missing")], project).files == ()
    empty = _tree(project / "empty", {"__pycache__/x.pyc": "b"})
    with pytest.raises(InputError, match="selects no file"):
        code.select_files(CodeSection(root=empty.name, mode="all"), project)


def test_root_outside_the_project_is_refused(project: Path, tmp_path: Path) -> None:
    _tree(tmp_path / "elsewhere", {"x.py": ""})
    with pytest.raises(InputError, match="outside the project"):
        code.select_files(CodeSection(root="../elsewhere", mode="all"), project)
    with pytest.raises(InputError, match="is not a directory"):
        code.select_files(CodeSection(root="nope", mode="all"), project)
    # auto mode names files explicitly (what the analysis followed): any root is fine
    outside = CodeSection(root="../elsewhere", include=("x.py",))
    assert code.select_files(outside, project) == ["x.py"]


def test_links_out_of_the_root_are_refused_links_inside_are_files(
    project: Path, tmp_path: Path
) -> None:
    (project / "alias.py").symlink_to("job.py")
    (project / "helpers-link").symlink_to("helpers", target_is_directory=True)
    bundle = code.collect([CodeSection(mode="all", include=("*.py",))], project)
    by_path = {f.path: f for f in bundle.files}
    assert by_path["alias.py"].sha256 == by_path["job.py"].sha256
    assert "helpers-link/io.py" in by_path
    secret = _tree(tmp_path / "secret", {"key.py": "KEY = 1\n"})
    (project / "leak.py").symlink_to(secret / "key.py")
    with pytest.raises(InputError, match=r"leak\.py is a symbolic link out of the code root"):
        code.collect([CodeSection(mode="all")], project)
    (project / "leak.py").unlink()
    (project / "leakdir").symlink_to(secret, target_is_directory=True)
    with pytest.raises(InputError, match="leakdir is a symbolic link out of the code root"):
        code.collect([CodeSection(mode="all")], project)


def test_two_roots_giving_one_path_is_refused(tmp_path: Path) -> None:
    _tree(tmp_path / "a", {"util.py": "A\n"})
    _tree(tmp_path / "b", {"util.py": "B\n"})
    sections = [CodeSection("a", ("util.py",)), CodeSection("b", ("util.py",))]
    with pytest.raises(InputError, match=r"two code roots both provide util\.py"):
        code.collect(sections, tmp_path)


def test_command_line_refines_the_spec(project: Path) -> None:
    spec_code = (CodeSection(".", ("job.py",), ()),)
    assert code.from_command_line(spec_code, project) == spec_code
    (section,) = code.from_command_line(spec_code, project, include=("configs/*.yaml",))
    assert (section.mode, section.include) == ("auto", ("job.py", "configs/*.yaml"))
    (section,) = code.from_command_line(spec_code, project, mode="all", exclude=("notes.txt",))
    assert (section.mode, section.include, section.exclude) == ("all", (), ("notes.txt",))
    (section,) = code.from_command_line((), project, mode="all", root=project / "helpers")
    assert section.root == "helpers"
    assert code.from_command_line(spec_code, project, mode="none") == (CodeSection(mode="none"),)
    with pytest.raises(UsageError, match="--code none bundles no code"):
        code.from_command_line(spec_code, project, mode="none", include=("x",))
    with pytest.raises(UsageError, match="2 code sections"):
        code.from_command_line(spec_code * 2, project, mode="all")
    with pytest.raises(UsageError, match="unknown --code mode"):
        code.from_command_line(spec_code, project, mode="everything")


def _layer_members(data: bytes) -> list[tarfile.TarInfo]:
    if data[:2] == b"\x1f\x8b":
        content = gzip.decompress(data)
    else:
        import zstandard

        content = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    raw = io.BytesIO(content)
    with tarfile.open(fileobj=raw, mode="r:") as tar:
        return tar.getmembers()


@pytest.mark.parametrize("kind", ["gz", "zst"])
def test_code_layer_bytes_are_deterministic(project: Path, tmp_path: Path, kind: str) -> None:
    section = CodeSection(mode="all")
    first = _layers.code_part(code.collect([section], project), kind, 4, 315532800)
    copy = tmp_path / "copy" / "project"
    old = os.umask(0o077)
    try:
        shutil.copytree(project, copy, symlinks=True)
    finally:
        os.umask(old)
    for path in copy.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000), follow_symlinks=False)
    (copy / "run.sh").chmod(0o700)
    (project / "run.sh").chmod(0o755)
    first = _layers.code_part(code.collect([section], project), kind, 4, 315532800)
    second = _layers.code_part(code.collect([section], copy), kind, 4, 315532800)
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    members = _layer_members(first)
    names = [m.name for m in members]
    assert names == sorted(names) and names[0] == "pkgtool-code"
    assert "pkgtool-code/.pkgtool-code.json" in names and "pkgtool-code/helpers" in names
    for m in members:
        assert (m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", 315532800)
        assert m.mode == (0o755 if m.isdir() or m.name.endswith("run.sh") else 0o644), m.name
    assert all(m.isdir() or m.isreg() for m in members)


def test_code_hash_follows_content_not_times(project: Path) -> None:
    section = CodeSection(mode="all")
    before = code.collect([section], project)
    os.utime(project / "job.py", (1, 1))
    assert code.collect([section], project).hash == before.hash
    (project / "job.py").write_text("import helpers  # edited\n")
    after = code.collect([section], project)
    assert after.hash != before.hash
    manifest = after.to_manifest()
    assert manifest["hash"] == after.hash
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}  # type: ignore[attr-defined]
    assert listed["job.py"] == hashlib.sha256((project / "job.py").read_bytes()).hexdigest()
