"""Parameter sweep driver: reads sweep.yaml, runs one grid point per array task, plots at the end.

    sbatch --array=0-47 sweep.sh            # python run_sweep.py --task $SLURM_ARRAY_TASK_ID
    python run_sweep.py --collect           # after all tasks finished
"""
import argparse
import os

import numpy as np

import config
import io_utils
import plotting
from utils import grid_points, set_seed, simulate


def run_task(cfg, task):
    params = grid_points(cfg["grid"])[task]
    set_seed(cfg["seed"] + task)
    traj = simulate(params, n_steps=cfg["n_steps"], dt=cfg["dt"])
    io_utils.save_result(cfg["outdir"], task, params, traj)
    print(f"task {task}: {params} -> final energy {traj[-1, 0]:.4g}")


def collect(cfg):
    results = io_utils.load_results(cfg["outdir"])
    summary = results.groupby(["kappa", "gamma"])["energy"].agg(["mean", "std"]).reset_index()
    summary.to_csv(os.path.join(cfg["outdir"], "summary.csv"), index=False)
    plotting.heatmap(summary, "kappa", "gamma", "mean", os.path.join(cfg["outdir"], "energy.png"))
    print("best:", summary.loc[np.argmin(summary["mean"].to_numpy())].to_dict())


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="sweep.yaml")
    ap.add_argument("--task", type=int, default=int(os.environ.get("SLURM_ARRAY_TASK_ID", "0")))
    ap.add_argument("--collect", action="store_true")
    args = ap.parse_args()
    cfg = config.load(args.config)
    collect(cfg) if args.collect else run_task(cfg, args.task)
