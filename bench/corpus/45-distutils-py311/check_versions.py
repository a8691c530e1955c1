"""Check that the cluster's module versions satisfy the pipeline's minimums (old-style code)."""

import json
import sys
from distutils.version import LooseVersion
from distutils.spawn import find_executable

import numpy

MINIMUMS = {"numpy": "1.21", "gcc": "9.3", "cmake": "3.18"}


def tool_version(name):
    import subprocess

    exe = find_executable(name)
    if exe is None:
        return None
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    return out.split()[2] if name == "gcc" else out.split()[2].rstrip(",")


def main():
    found = {"numpy": numpy.__version__, "gcc": tool_version("gcc"), "cmake": tool_version("cmake")}
    bad = {k: v for k, v in found.items() if v is None or LooseVersion(v) < LooseVersion(MINIMUMS[k])}
    json.dump({"found": found, "too_old": bad}, sys.stdout, indent=2)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
