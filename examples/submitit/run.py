"""submitit's SlurmExecutor with the jobs' python from a pkgtool environment.

usage: python3 run.py ARCHIVE RUNDIR [N] [PARTITION]   (from a directory holding params.yaml)

Each task is one task of a Slurm job array running ``pkg run ARCHIVE python3 -u -m
submitit.core._submit ...`` (submitit in the archive) in RUNDIR (``chdir``): Slurm jobs start
in the submit directory, and ``python -m`` puts the working directory first on
``sys.path``, so a ``helper.py`` there would shadow the archive's. The client pickles the
task with cloudpickle: run it with the python the archive was analysed with
(examples/job/README.md); ``pkg check-client`` stops here when they differ.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import submitit


def task(index: int, params_text: str) -> dict[str, Any]:
    """Task ``index`` in a Slurm job: numpy, PyYAML and ``helper`` from the archive."""
    import helper

    params = helper.load_params(params_text)
    return {"task": index, "value": helper.task_value(index, params), **helper.provenance()}


def main(argv: list[str]) -> int:
    archive, rundir = Path(argv[1]).resolve(), Path(argv[2]).resolve()
    count = int(argv[3]) if len(argv) > 3 else 8
    subprocess.run(["pkg", "check-client", str(archive), sys.executable], check=True)
    params_text = Path("params.yaml").read_text()
    executor = submitit.SlurmExecutor(folder=rundir / "logs", python=f"pkg run {archive} python3")
    executor.update_parameters(
        time=10,
        cpus_per_task=1,
        array_parallelism=count,
        additional_parameters={"chdir": str(rundir)},
        **({"partition": argv[4]} if len(argv) > 4 else {}),
    )
    jobs = executor.map_array(task, range(count), [params_text] * count)
    for job in jobs:
        print(json.dumps(job.result(), sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
