"""Per-node resource monitor for long batch jobs; writes one JSON line per interval."""

import json
import os
import platform
import sys
import time

import psutil

if sys.platform == "win32":
    import msvcrt
    import win32api
    import win32con
elif sys.platform == "darwin":
    import fcntl
    from appnope import nope as disable_app_nap
else:
    import fcntl
    import resource

if platform.system() == "Windows":
    from colorama import just_fix_windows_console

    just_fix_windows_console()


def lock(fh):
    if sys.platform == "win32":
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)


def sample():
    mem = psutil.virtual_memory()
    row = {"t": time.time(), "cpu": psutil.cpu_percent(interval=None), "mem_used": mem.used}
    if sys.platform.startswith("linux"):
        row["maxrss_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        row["load1"] = os.getloadavg()[0]
    return row


def main(path="monitor.jsonl", every=30.0):
    if sys.platform == "darwin":
        disable_app_nap()
    with open(path, "a") as fh:
        lock(fh)
        while True:
            fh.write(json.dumps(sample()) + "\n")
            fh.flush()
            time.sleep(every)


if __name__ == "__main__":
    main(*sys.argv[1:2])
