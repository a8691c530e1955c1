"""Dask-jobqueue on Slurm with workers started from a pkgtool environment.

usage: python3 job.py ARCHIVE RUNDIR [N]   (from a directory holding params.yaml)

Run it with the python the environment was analysed for: the workers need the client's exact
dask and distributed versions (examples/job/README.md builds the archive from task.py and this
file); ``pkg check-client`` checks them first. Each worker is a Slurm job running
``exec pkg run ARCHIVE python3 -m distributed.cli.dask_worker ...`` in RUNDIR, a directory
without a ``helper.py``: Slurm jobs start in the submit directory and ``python -m`` puts the
working directory first on ``sys.path``, so a helper.py there would shadow the archive's.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from dask_jobqueue import SLURMCluster
from distributed import Client


def task(index: int, params_text: str) -> dict[str, Any]:
    """Task ``index`` on a worker: numpy, PyYAML and ``helper`` from the archive."""
    import helper

    params = helper.load_params(params_text)
    return {"task": index, "value": helper.task_value(index, params), **helper.provenance()}


def main(argv: list[str]) -> int:
    archive, rundir = Path(argv[1]).resolve(), Path(argv[2]).resolve()
    count = int(argv[3]) if len(argv) > 3 else 8
    # The workers need the client's python minor, dask, distributed and cloudpickle
    # versions: stop here (exit 3, naming the first difference) when the archive has others.
    subprocess.run(["pkg", "check-client", str(archive), sys.executable], check=True)
    params_text = Path("params.yaml").read_text()
    cluster = SLURMCluster(
        cores=1,
        processes=1,
        memory="1GB",
        walltime="00:10:00",
        python=f"exec pkg run {archive} python3",  # exec: scancel reaches the worker
        job_extra_directives=[f"--chdir={rundir}"],
        log_directory=str(rundir),
    )
    with cluster, Client(cluster) as client:
        cluster.scale(jobs=2)
        client.wait_for_workers(2, timeout=300)
        futures = client.map(task, range(count), params_text=params_text)
        for result in client.gather(futures):
            print(json.dumps(result, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
