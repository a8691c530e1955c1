"""``pkg cache list|prune`` against live commands, and ``pkg runner``."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pkgtool.runner import layer_ids, runner_script

from .layered import code_members, layered, write_layered
from .test_conformance import Env, file, leftovers, standard_members

ROOT = Path(__file__).resolve().parents[2]


def pkg(*args: str, env: Env | None = None) -> subprocess.CompletedProcess[str]:
    environ = env.environ() if env else {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pkgtool", *args],
        capture_output=True, text=True, env={**environ, "COLUMNS": "200"}, check=False,
    )  # fmt: skip


def listing(env: Env) -> dict[str, Any]:
    result = pkg("cache", "list", "--cache-dir", str(env.cache), "--json", env=env)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    assert document["format"] == 1
    return {entry["id"]: entry for entry in document["environments"]}


@contextlib.contextmanager
def live_command(env: Env, archive: Path) -> Iterator[subprocess.Popen[str]]:
    """A command running in ``archive``'s environment (it has printed ``started``) for the
    block; stopped by the block itself or at its end."""
    command = ["sh", "-c", "echo started; exec sleep 60"]
    with subprocess.Popen(
        env.argv(archive, command), env=env.environ(), stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "started\n"
        yield proc


@pytest.mark.parametrize("runner", ["pkg-run", "python", "dash", "env.sh"])
def test_prune_never_removes_an_environment_a_command_is_using(tmp_path: Path, runner: str) -> None:
    env = Env(tmp_path, runner)
    busy = env.archive(name="busy.tar.gz")
    idle = env.archive([*standard_members(), file("lib/idle", "x")], name="idle.tar.gz")
    assert env.run(idle, "true").returncode == 0
    with live_command(env, busy) as proc:
        busy_id, idle_id = env.prefix(busy).name, env.prefix(idle).name

        entries = listing(env)
        assert set(entries) == {busy_id, idle_id}
        assert (entries[busy_id]["in_use"], entries[idle_id]["in_use"]) == (True, False)
        source = env.self_extracting(idle) if runner == "env.sh" else idle
        assert entries[idle_id]["archive"] == str(source)
        assert entries[busy_id]["ready"] and entries[busy_id]["size"] > 0

        pruned = pkg("cache", "prune", "--all", "--cache-dir", str(env.cache), env=env)
        assert (pruned.returncode, pruned.stdout) == (0, f"{idle_id}\n"), pruned.stderr
        assert "1 in use kept" in pruned.stderr
        assert (env.prefix(busy) / ".pkgtool-ready").is_file()
        assert not env.prefix(idle).exists()
        proc.terminate()
    assert listing(env)[busy_id]["in_use"] is False
    kept = pkg("cache", "prune", "--older-than", "1h", "--cache-dir", str(env.cache), env=env)
    assert (kept.returncode, kept.stdout) == (0, ""), kept.stderr
    os.utime(env.cache / f"{busy_id}.lock", (time.time() - 7200, time.time() - 7200))
    aged = pkg("cache", "prune", "--older-than", "1h", "--cache-dir", str(env.cache), env=env)
    assert (aged.returncode, aged.stdout) == (0, f"{busy_id}\n"), aged.stderr
    assert leftovers(env.cache) == []
    again = env.run(busy, "sh", "-c", "echo back")  # unpacked again after the prune
    assert (again.returncode, again.stdout) == (0, "back\n"), again.stderr


def test_prune_removes_incomplete_environments_and_dead_work(tmp_path: Path) -> None:
    env = Env(tmp_path, "python")
    archive = env.archive()
    assert env.run(archive, "true").returncode == 0
    env.cache.joinpath("0" * 32, "bin").mkdir(parents=True)  # a run that died
    env.cache.joinpath(".work-1-2-3-4.5-6.7", "tree").mkdir(parents=True)
    env.cache.joinpath(".key-1-2-3-4.5-6.7.lock").touch()
    assert listing(env)["0" * 32]["ready"] is False

    pruned = pkg("cache", "prune", "--cache-dir", str(env.cache), env=env)

    assert (pruned.returncode, pruned.stdout) == (0, "0" * 32 + "\n"), pruned.stderr
    assert leftovers(env.cache) == sorted(
        [env.prefix(archive).name, *(n for n in os.listdir(env.cache) if n.startswith(".key-")
                                     and not n.endswith(".lock"))]
    )  # fmt: skip
    assert not any(name.startswith(".work-") for name in os.listdir(env.cache))


def test_cache_list_text_and_bad_duration(tmp_path: Path) -> None:
    env = Env(tmp_path, "python")
    archive = env.archive()
    assert env.run(archive, "true").returncode == 0
    shown = pkg("cache", "list", "--cache-dir", str(env.cache), env=env)
    assert shown.returncode == 0, shown.stderr
    assert re.fullmatch(rf"{env.prefix(archive).name}  env +\S+ \S+ +\S+ \S+ +ready +env.tar.gz\n",
                        shown.stdout)  # fmt: skip
    bad = pkg("cache", "prune", "--older-than", "soon", "--cache-dir", str(env.cache), env=env)
    assert bad.returncode == 2
    assert "not a duration" in bad.stderr


def test_pkg_runner_writes_the_standalone_runner(tmp_path: Path) -> None:
    to_file = pkg("runner", str(tmp_path / "pkg-run.sh"))
    assert to_file.returncode == 0, to_file.stderr
    written = tmp_path / "pkg-run.sh"
    assert written.read_bytes() == runner_script().read_bytes()
    assert os.access(written, os.X_OK)
    (tmp_path / "bin").mkdir()
    assert pkg("runner", str(tmp_path / "bin")).returncode == 0
    assert (tmp_path / "bin" / "pkg-run.sh").read_bytes() == runner_script().read_bytes()
    to_stdout = subprocess.run(
        [sys.executable, "-m", "pkgtool", "runner"], capture_output=True, check=True
    )
    assert to_stdout.stdout == runner_script().read_bytes()


OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]+")


@pytest.mark.parametrize(
    ("command", "page"),
    [(("cache", "list"), "pkg-cache.1"), (("cache", "prune"), "pkg-cache.1"),
     (("runner",), "pkg-runner.1"), (("run",), "pkg-run.1")],
)  # fmt: skip
def test_every_help_option_is_in_the_man_page(command: tuple[str, ...], page: str) -> None:
    result = pkg(*command, "--help")
    options = set(OPTION.findall(result.stdout))
    assert "--help" in options
    man = (ROOT / "man" / page).read_text().replace(r"\-", "-")
    assert sorted(o for o in options if o not in man) == []


@pytest.mark.parametrize("start", ["cold", "warm"])
@pytest.mark.parametrize("runner", ["python", "dash", "bash-posix"])
def test_list_and_prune_with_code_layers(tmp_path: Path, runner: str, start: str) -> None:
    # warm: the command starts on the warm path, where pkg-run.sh locks only the code layer;
    # the record pairing it with the environment keeps that in use too
    env = Env(tmp_path, runner)
    first = write_layered(env.tmp / "v1.tar.gz", layered(standard_members(), code_members("1")))
    second = write_layered(env.tmp / "v2.tar.gz", layered(standard_members(), code_members("2")))
    env_id, first_code = layer_ids(first)
    second_code = layer_ids(second)[1]
    assert first_code is not None and second_code is not None
    assert env.run(first, "true").returncode == 0
    if start == "warm":
        assert env.run(second, "true").returncode == 0
    with live_command(env, second) as proc:
        entries = listing(env)
        assert {i: (e["kind"], e["in_use"], e["ready"]) for i, e in entries.items()} == {
            env_id: ("env", True, True),
            first_code: ("code", False, True),
            second_code: ("code", True, True),
        }
        assert entries[second_code]["archive"] == str(second)
        assert entries[second_code]["size"] > 0
        shown = pkg("cache", "list", "--cache-dir", str(env.cache), env=env)
        assert re.search(rf"^{first_code}  code +\S+ \S+ +\S+ \S+ +ready +v1.tar.gz$",
                         shown.stdout, re.MULTILINE), shown.stdout  # fmt: skip

        pruned = pkg("cache", "prune", "--all", "--cache-dir", str(env.cache), env=env)

        assert (pruned.returncode, pruned.stdout) == (0, f"{first_code}\n"), pruned.stderr
        assert "2 in use kept" in pruned.stderr
        assert {p.name for p in env.cache.iterdir() if p.is_dir()} == {env_id, second_code}
        proc.terminate()
    # the first version's record named the pruned layer: it is gone, and the next run of
    # that archive unpacks its code layer again, not the environment
    again = env.run(first, "sh", "-c", 'cat "$PKG_CODE_DIR/configs/run.yaml"')
    assert (again.returncode, again.stdout) == (0, "version: 1\n"), again.stderr
    assert len(env.unpacks()) == 1
    assert pkg("cache", "prune", "--all", "--cache-dir", str(env.cache), env=env).returncode == 0
    assert leftovers(env.cache) == []
