"""Aggregate a month of Parquet event logs on a SLURM cluster with dask-jobqueue."""

import argparse

import dask.dataframe as dd
from dask.distributed import Client, progress
from dask_jobqueue import SLURMCluster


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("glob", help="e.g. /scratch/events/2024-05-*.parquet")
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--out", default="/scratch/summaries/2024-05")
    args = ap.parse_args()

    cluster = SLURMCluster(
        queue="compute",
        cores=8,
        memory="32GB",
        walltime="02:00:00",
        job_extra_directives=["--account=proj123"],
    )
    cluster.scale(jobs=args.workers)
    client = Client(cluster)

    events = dd.read_parquet(args.glob, columns=["user_id", "event", "ts", "bytes"])
    events["day"] = events.ts.dt.floor("D")
    daily = events.groupby(["day", "event"]).agg({"user_id": "nunique", "bytes": "sum"})
    daily = daily.persist()
    progress(daily)
    daily.to_parquet(args.out, write_index=True)
    print(daily.head(20))
    client.close()
    cluster.close()


if __name__ == "__main__":
    main()
