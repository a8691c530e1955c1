"""A Spark job whose Python UDF runs on the executors from a pkgtool environment.

Submit it with ``sh submit.sh ARCHIVE [N]`` from a directory holding ``params.yaml`` (see
submit.sh). The UDF imports numpy, PyYAML and the local ``helper`` module on the executors,
from the archive Spark unpacked as ``./environment``; the driver needs only pyspark. Prints
one JSON line per task, like examples/job/task.py.
"""

import sys
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql.functions import udf


def task(index: int, params_text: str) -> str:
    """Task ``index`` on an executor (``./environment/bin/python``)."""
    import json

    import helper  # from the archive: the executors' directories hold no helper.py

    params = helper.load_params(params_text)
    result = {"task": index, "value": helper.task_value(index, params), **helper.provenance()}
    return json.dumps(result, sort_keys=True)


def main(argv: list[str]) -> int:
    count = int(argv[1]) if len(argv) > 1 else 20
    params_text = Path("params.yaml").read_text()
    spark = SparkSession.builder.appName("pkgtool-example").getOrCreate()
    try:
        run_task = udf(lambda index: task(index, params_text), "string", useArrow=False)
        frame = spark.range(count, numPartitions=4).select("id", run_task("id").alias("result"))
        for row in sorted(frame.collect(), key=lambda row: row.id):
            print(row.result)
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
