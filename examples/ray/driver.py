"""Ray tasks whose worker processes run in a pkgtool environment.

usage: python3 driver.py ARCHIVE [N]   (from a directory holding params.yaml and no local
modules that the tasks import)

``runtime_env={"py_executable": "pkg run ARCHIVE python3"}`` makes Ray start each worker
process of these tasks as ``pkg run ARCHIVE python3 .../default_worker.py ...``, so the
environment needs ray itself, of the driver's exact version: build it from this file
(examples/job/README.md), and run the driver with the python it was analysed with (``pkg
check-client`` stops here otherwise). The archive path must be absolute and exist on every
node (Ray retries a worker that cannot start for ever: a relative path with
``working_dir`` does that). This starts a local Ray instance of 2 CPUs; on a cluster, pass
``address="auto"`` to ``ray.init``.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import ray


@ray.remote
def task(index: int, params_text: str) -> dict[str, Any]:
    """Task ``index`` in a Ray worker: numpy, PyYAML and ``helper`` from the archive."""
    import helper

    params = helper.load_params(params_text)
    return {"task": index, "value": helper.task_value(index, params), **helper.provenance()}


def main(argv: list[str]) -> int:
    archive = Path(argv[1]).resolve()
    count = int(argv[2]) if len(argv) > 2 else 8
    subprocess.run(["pkg", "check-client", str(archive), sys.executable], check=True)
    params_text = Path("params.yaml").read_text()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        runtime_env={"py_executable": f"pkg run {archive} python3"},
    )
    try:
        results = ray.get([task.remote(index, params_text) for index in range(count)])
    finally:
        ray.shutdown()
    for result in results:
        print(json.dumps(result, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
