"""Parsl's HighThroughputExecutor with its worker pool started from a pkgtool environment.

usage: python3 run.py ARCHIVE RUNDIR [N] [--slurm PARTITION]   (from a directory holding
params.yaml)

The pool (``process_worker_pool.py``, from the archive's parsl) is launched as ``exec pkg run
ARCHIVE process_worker_pool.py ...`` by ``WrappedLauncher``, on this machine
(``LocalProvider``) or in a Slurm job (``SlurmProvider``, the job run in RUNDIR). Parsl's
``worker_init`` cannot do this: it runs in the job's shell before the pool starts and cannot
change the interpreter. Run the client with the python the archive was analysed with
(examples/job/README.md): ``pkg check-client`` stops here when parsl, cloudpickle or the
python minor version differ from the archive's.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import parsl
from parsl import python_app
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.launchers import WrappedLauncher
from parsl.providers import LocalProvider, SlurmProvider


@python_app
def task(index: int, params_text: str) -> dict[str, Any]:
    """Task ``index`` in the worker pool: numpy, PyYAML and ``helper`` from the archive."""
    import helper

    params = helper.load_params(params_text)
    return {"task": index, "value": helper.task_value(index, params), **helper.provenance()}


def config(archive: Path, rundir: Path, partition: str | None) -> Config:
    """Two blocks (worker pools, each a ``pkg run`` of the archive) of one worker each: on
    one node, the second pool finds the environment the first one unpacked."""
    launcher = WrappedLauncher(prepend=f"exec pkg run {archive}")
    blocks = {"init_blocks": 2, "min_blocks": 0, "max_blocks": 2}
    if partition is None:
        provider: Any = LocalProvider(launcher=launcher, **blocks)
    else:
        provider = SlurmProvider(
            partition=partition,
            launcher=launcher,
            scheduler_options=f"#SBATCH --chdir={rundir}",
            exclusive=False,
            walltime="00:10:00",
            **blocks,
        )
    htex = HighThroughputExecutor(
        label="htex", address="127.0.0.1", max_workers_per_node=1, provider=provider
    )
    return Config(executors=[htex], run_dir=str(rundir / "runinfo"))


def main(argv: list[str]) -> int:
    partition = argv[argv.index("--slurm") + 1] if "--slurm" in argv else None
    args = argv[: argv.index("--slurm")] if "--slurm" in argv else argv
    archive, rundir = Path(args[1]).resolve(), Path(args[2]).resolve()
    count = int(args[3]) if len(args) > 3 else 8
    subprocess.run(["pkg", "check-client", str(archive), sys.executable], check=True)
    params_text = Path("params.yaml").read_text()
    with parsl.load(config(archive, rundir, partition)):
        futures = [task(index, params_text) for index in range(count)]
        for future in futures:
            print(json.dumps(future.result(), sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
