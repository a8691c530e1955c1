"""``pkg analyze --function``: the modules pkg call's packagers need for the function's
annotations become required imports with a finding, and the script is bundled as code."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from pkgtool.analyzer import AnalyzeOptions, analyze

SCRIPT = """
from __future__ import annotations

import pandas as pd
from numpy import ndarray


def clean(raw: pd.DataFrame, limit: float = 0.5) -> tuple[int, "pd.DataFrame"]:
    return 0, raw


def stack(a: ndarray) -> ndarray:
    return a


def plain(n: int) -> int:
    return n
"""


class Found(NamedTuple):
    required: dict[str, tuple[str, ...]]
    code: list[str]


def _analyze(tmp_path: Path, function: str | None) -> tuple[Found, list[str]]:
    (tmp_path / "job.py").write_text(SCRIPT)
    options = AnalyzeOptions(spec_dir=tmp_path, cache=False, function=function)
    result = analyze([tmp_path / "job.py"], options)
    required = {i.module: i.sites for i in result.imports if not i.optional}
    code = [f for c in result.spec.code for f in c.include]
    return Found(required, code), [str(f) for f in result.findings]


def test_a_dataframe_parameter_needs_pyarrow(tmp_path: Path) -> None:
    found, findings = _analyze(tmp_path, "clean")
    # the module's own imports count for any function; pyarrow is the packagers' need
    assert found.required == {
        "pandas": ("job.py:4",),
        "numpy": ("job.py:5",),
        "pyarrow": ("job.py:8",),
    }
    assert findings == [
        f"{tmp_path / 'job.py'}:8: pyarrow: required by pkg call for clean's pandas.DataFrame: "
        "it reads and writes .parquet/.feather (the default dataset format)"
    ]
    assert found.code == ["job.py"]  # pkg call imports the function from the code layer


def test_other_functions_and_no_function_add_nothing(tmp_path: Path) -> None:
    stack, findings = _analyze(tmp_path, "stack")
    assert set(stack.required) == {"pandas", "numpy"}  # numpy is imported: no finding
    assert findings == []
    assert set(_analyze(tmp_path, "plain")[0].required) == {"pandas", "numpy"}
    everything, findings = _analyze(tmp_path, None)
    assert set(everything.required) == {"pandas", "numpy"}
    assert findings == [] and everything.code == []
