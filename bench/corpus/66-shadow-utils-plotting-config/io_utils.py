import glob
import json
import os

import numpy as np
import pandas as pd


def save_result(outdir, task, params, traj):
    np.save(os.path.join(outdir, f"traj_{task:04d}.npy"), traj)
    with open(os.path.join(outdir, f"params_{task:04d}.json"), "w") as fh:
        json.dump({**params, "energy": float(traj[-1, 0])}, fh)


def load_results(outdir):
    rows = []
    for path in sorted(glob.glob(os.path.join(outdir, "params_*.json"))):
        with open(path) as fh:
            rows.append(json.load(fh))
    return pd.DataFrame(rows)
