"""The README's "Batch engines" section agrees with the examples the engine tests run."""

from __future__ import annotations

import re

from engines.conftest import EXAMPLES

README = (EXAMPLES.parent / "README.md").read_text()
SECTION = README.split("## Batch engines", 1)[1].split("\n## ", 1)[0]


def test_readme_links_every_engine_example() -> None:
    engines = ("slurm", "spark", "dask", "workqueue", "parsl", "submitit", "snakemake", "ray")
    for engine in (*engines, "htcondor"):
        assert f"(examples/{engine}/)" in SECTION, engine
        assert (EXAMPLES / engine / "README.md").is_file(), engine


def test_readme_spark_command_is_the_tested_one() -> None:
    """Every option of the README's spark-submit command is in examples/spark/submit.sh,
    which tests/engines/test_spark.py runs (the variables there default to these values)."""
    block = SECTION.split("spark-submit", 1)[1].split("```", 1)[0]
    options = r"--(?:master|archives|conf) \S+"
    readme_options = re.findall(options, block.replace("\\\n", " "))
    assert len(readme_options) == 4, readme_options
    submit = (EXAMPLES / "spark" / "submit.sh").read_text()
    submit = submit.replace('"$archive#environment"', "env.tar.gz#environment")
    submit = submit.replace('"${DRIVER_PYTHON:-python3}"', "python3")
    submit = submit.replace('"${SPARK_MASTER:-local-cluster[2,1,1024]}"', "local-cluster[2,1,1024]")
    submit_options = re.findall(options, submit)
    assert sorted(readme_options) == sorted(submit_options)


def test_slurm_job_scripts_exec_the_runner() -> None:
    """scancel signals the job's shell: the scripts must replace it with the runner."""
    for script in sorted((EXAMPLES / "slurm").glob("*.sbatch")):
        commands = [line for line in script.read_text().splitlines() if line[:1] not in "#"]
        assert [c.split()[0] for c in commands if c.strip()] == ["exec"], script.name
