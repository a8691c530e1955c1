"""The pip layer's rebuild path, attacked with real builds: a pip change served from the
per-distribution cache (bytecode, compressed parts) gives the bytes a cold build gives; uv
and pip resolve the same lock; pip's configuration reaches uv, or pip resolves."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from pkgtool.builder import CreateOptions, create, lock, pip_layer
from pkgtool.errors import ResolutionError
from pkgtool.spec import load_spec


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_spec(root: Path, name: str, channel: str, pip: list[str]) -> Path:
    spec = {
        "format": 1,
        "conda": {"channels": [channel], "dependencies": ["python", {"pip": pip}]},
        "analysis": {
            "entry_points": ["job.py"],
            "imports": [{"module": "yaml", "distribution": None, "version": None,
                         "installer": "pip", "optional": False, "sites": ["job.py:1"]}],
        },
    }  # fmt: skip
    path = root / name
    path.write_text(json.dumps(spec))
    return path


def _build(spec: Path, out: Path, cache: Path, **options: Any) -> list[str]:
    steps: list[str] = []
    create(load_spec(spec), spec.parent, out, CreateOptions(cache_dir=cache, **options),
           steps.append)  # fmt: skip
    return steps


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".tar.gz", ".tar.zst"])
def test_pip_change_gives_the_bytes_of_a_cold_build(
    local_channel: Any, tmp_path: Path, suffix: str
) -> None:
    (tmp_path / "job.py").write_text("import yaml\n")
    before = _write_spec(tmp_path, "before.json", local_channel.url, ["pyyaml"])
    after = _write_spec(tmp_path, "after.json", local_channel.url, ["pyyaml", "six"])
    warm, cold = tmp_path / "warm", tmp_path / "cold"
    _build(before, tmp_path / f"before{suffix}", warm)
    steps = _build(after, tmp_path / f"warm{suffix}", warm)
    _build(after, tmp_path / f"cold{suffix}", cold)
    compiled = [s for s in steps if s.startswith("compiling bytecode")]
    # six.py, pkgtool's code hook (_pkgtool_code.py) and its call package (pkgtool_call/,
    # 5 files); PyYAML's bytecode came cached
    assert compiled == ["compiling bytecode of 7 files"], steps
    assert len(list((warm / "pip-dists").iterdir())) == 2  # PyYAML's entry reused, six's new
    parts = list((warm / "pip-dists").glob(f"*/parts/{'zst' if 'zst' in suffix else 'gz'}-*"))
    assert len(parts) == 4  # per distribution: the part and its packer state
    assert _sha256(tmp_path / f"warm{suffix}") == _sha256(tmp_path / f"cold{suffix}")


@pytest.mark.slow
def test_uv_and_pip_resolve_the_same_lock(local_channel: Any, tmp_path: Path) -> None:
    spec = load_spec(_write_spec(tmp_path, "deps.json", local_channel.url, ["PyYAML", "six"]))
    cache = tmp_path / "cache"
    by_uv = lock(spec, tmp_path / "uv.lock.json", CreateOptions(cache_dir=cache))
    by_pip = lock(spec, tmp_path / "pip.lock.json",
                  CreateOptions(cache_dir=cache, installer="pip"))  # fmt: skip
    assert [d.name for d in by_uv.pip] == ["PyYAML", "six"]  # the spec's spelling, as pip's
    assert by_uv.to_dict() == by_pip.to_dict()


@pytest.mark.slow
def test_uv_takes_the_wheel_pip_takes_when_several_fit(local_channel: Any, tmp_path: Path) -> None:
    # charset-normalizer 3.5.3 has cp3X-cp3X, cp37-abi3 and py3-none-any wheels for this
    # platform: uv's pylock.toml lists all three, the lock names the one an installer takes
    pins = ["charset-normalizer==3.5.3"]
    spec = load_spec(_write_spec(tmp_path, "deps.json", local_channel.url, pins))
    cache = tmp_path / "cache"
    by_uv = lock(spec, tmp_path / "uv.lock.json", CreateOptions(cache_dir=cache))
    by_pip = lock(spec, tmp_path / "pip.lock.json",
                  CreateOptions(cache_dir=cache, installer="pip"))  # fmt: skip
    assert by_uv.to_dict() == by_pip.to_dict()
    (wheel,) = [d.filename for d in by_uv.pip]
    assert "-none-any" not in wheel and "-abi3-" not in wheel, wheel


@pytest.mark.slow
def test_uv_conflicting_requirements_are_a_resolution_error(
    local_channel: Any, tmp_path: Path
) -> None:
    spec = load_spec(
        _write_spec(tmp_path, "deps.json", local_channel.url, ["six==1.16.0", "six>=1.17"])
    )
    with pytest.raises(ResolutionError, match=r"pip requirements conflict: six==1\.16\.0"):
        lock(spec, tmp_path / "x.lock.json", CreateOptions(cache_dir=tmp_path / "cache"))
    assert not (tmp_path / "x.lock.json").exists()


def _config_env(tmp_path: Path, text: str, **env: str) -> dict[str, str]:
    """An environment whose pip configuration is ``text`` (user file) plus ``env``; the
    machine's global files are left out (``XDG_CONFIG_DIRS``), /etc/pip.conf may add
    ``cert``."""
    (tmp_path / "home" / ".config" / "pip").mkdir(parents=True)
    (tmp_path / "home" / ".config" / "pip" / "pip.conf").write_text(text)
    return {"HOME": str(tmp_path / "home"), "XDG_CONFIG_DIRS": str(tmp_path / "none"),
            "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config"), **env}  # fmt: skip


def test_pip_configuration_becomes_uv_options(tmp_path: Path) -> None:
    env = _config_env(
        tmp_path,
        "[global]\nindex-url = https://mirror.example/simple\nfind-links = /w1\n"
        "timeout = 60\n[install]\nfind-links = /w2\n  /w3\n[download]\nno-index = 1\n",
        PIP_EXTRA_INDEX_URL="https://a.example/simple https://b.example/simple",
        PIP_TRUSTED_HOST="a.example",
        PIP_CERT="/certs/site.pem",
    )
    options = pip_layer.pip_index_options(env)
    assert options is not None
    args = list(options.args)
    assert args[:2] == ["--index-strategy", "unsafe-best-match"]
    pairs = list(zip(args[2::2], args[3::2], strict=True))
    assert pairs == [
        ("--default-index", "https://mirror.example/simple"),
        ("--index", "https://a.example/simple"),
        ("--index", "https://b.example/simple"),
        ("--find-links", "/w2"),  # [install] overrides [global]; [download] is not read
        ("--find-links", "/w3"),
        ("--allow-insecure-host", "a.example"),
    ]
    assert dict(options.env) == {"SSL_CERT_FILE": "/certs/site.pem"}  # the variable wins


@pytest.mark.parametrize(
    ("text", "env", "uv"),
    [
        ("[global]\npre = true\n", {}, False),
        ("[install]\nonly-binary = :all:\n", {}, False),
        ("[global]\nindex-url = https://x.example/simple\n", {"PIP_NO_BINARY": "numpy"}, False),
        ("[global]\nno-index = yes\n", {}, True),
        ("[global]\npre = true\n", {"PIP_CONFIG_FILE": os.devnull}, True),  # no files read
    ],
)
def test_untranslated_pip_options_leave_resolution_to_pip(
    tmp_path: Path, text: str, env: dict[str, str], uv: bool
) -> None:
    options = pip_layer.pip_index_options(_config_env(tmp_path, text, **env))
    assert (options is not None) == uv
    if options is not None and "no-index" in text:
        assert "--no-index" in options.args
