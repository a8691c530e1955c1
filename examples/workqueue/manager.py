"""A Work Queue manager running examples/job/task.py from a pkgtool environment.

usage: /usr/bin/python3 manager.py ARCHIVE [N] [PORT]   (PORT 0: any free port)

Run it from a directory holding task.py, params.yaml and the sh runner as ``pkg-run``, then
start workers that reach this host: ``work_queue_worker HOST PORT``. Debian's
python3-workqueue imports only under /usr/bin/python3, and the tasks need no Python on the
worker: each runs ``sh pkg-run env.tar.gz python3 task.py INDEX`` in its own sandbox, with
the archive and the runner as cached inputs (sent once per worker). Work Queue gives every
task its own TMPDIR; pkgtool's default cache root is /tmp/pkgtool-$UID whenever /tmp is
writable, so all tasks on a worker share one unpacked environment. Prints each task's JSON
line; exits 1 if a task failed.
"""

import sys

import work_queue as wq


def main(argv):
    archive = argv[1]
    count = int(argv[2]) if len(argv) > 2 else 8
    port = int(argv[3]) if len(argv) > 3 else wq.WORK_QUEUE_DEFAULT_PORT
    queue = wq.WorkQueue(port=port)
    print(f"listening on port {queue.port}", file=sys.stderr, flush=True)
    for index in range(count):
        task = wq.Task(f"sh pkg-run env.tar.gz python3 task.py {index}")
        task.specify_input_file(archive, "env.tar.gz", cache=True)
        task.specify_input_file("pkg-run", "pkg-run", cache=True)
        task.specify_input_file("task.py", "task.py", cache=True)
        task.specify_input_file("params.yaml", "params.yaml", cache=True)
        task.specify_cores(1)
        queue.submit(task)
    failed = 0
    while not queue.empty():
        task = queue.wait(5)
        if task is None:
            continue
        if task.result == wq.WORK_QUEUE_RESULT_SUCCESS and task.return_status == 0:
            print(task.output.strip(), flush=True)
        else:
            failed += 1
            status = f"{task.result_str}, exit {task.return_status}"
            print(f"task {task.id} failed ({status}):\n{task.output}", file=sys.stderr, flush=True)
    queue.shutdown_workers(0)  # 0: all of them
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
