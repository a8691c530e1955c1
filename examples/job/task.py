"""One task of the batch-engine examples: ``python3 task.py INDEX [PARAMS]``.

Reads the parameters (``params.yaml`` by default), computes the result of task INDEX with
the local ``helper`` module and prints one JSON line: the index, the value, and where Python,
numpy, PyYAML and ``helper`` were imported from (all inside the unpacked environment).
"""

import json
import sys
from pathlib import Path

import helper


def main(argv: list[str]) -> int:
    index = int(argv[1])
    params = helper.load_params(Path(argv[2] if len(argv) > 2 else "params.yaml").read_text())
    result = {"task": index, "value": helper.task_value(index, params), **helper.provenance()}
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
