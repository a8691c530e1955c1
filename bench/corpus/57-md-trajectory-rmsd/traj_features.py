"""RMSD, radius of gyration and secondary structure for every replica of a run.

Run from a job script after the MD jobs finished:
    python traj_features.py /scratch/md/run42 --stride 10
"""
import argparse
import glob
import os

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mdtraj as md
import MDAnalysis as mda
import numpy as np
import tables
from MDAnalysis.analysis import align, rms


class Frame(tables.IsDescription):
    replica = tables.Int32Col()
    frame = tables.Int32Col()
    rmsd = tables.Float32Col()
    rgyr = tables.Float32Col()
    helix = tables.Float32Col()


def replica_features(top, xtc, stride):
    u = mda.Universe(top, xtc)
    ref = mda.Universe(top)
    align.AlignTraj(u, ref, select="backbone", in_memory=True).run(step=stride)
    r = rms.RMSD(u, ref, select="backbone").run(step=stride)
    protein = u.select_atoms("protein")
    rgyr = np.array([protein.radius_of_gyration() for _ in u.trajectory[::stride]])

    t = md.load(xtc, top=top, stride=stride)
    dssp = md.compute_dssp(t, simplified=True)
    helix = (dssp == "H").mean(axis=1)
    return r.results.rmsd[:, 2], rgyr, helix


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rundir")
    ap.add_argument("--stride", type=int, default=10)
    args = ap.parse_args()

    top = os.path.join(args.rundir, "system.pdb")
    xtcs = sorted(glob.glob(os.path.join(args.rundir, "rep*", "traj.xtc")))
    fig, ax = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    with tables.open_file(os.path.join(args.rundir, "features.h5"), "w") as h5:
        tab = h5.create_table("/", "frames", Frame, filters=tables.Filters(complevel=5, complib="blosc"))
        for k, xtc in enumerate(xtcs):
            rmsd, rgyr, helix = replica_features(top, xtc, args.stride)
            n = min(len(rmsd), len(rgyr), len(helix))
            tab.append([(k, i, rmsd[i], rgyr[i], helix[i]) for i in range(n)])
            ax[0].plot(rmsd[:n], lw=0.8, label=f"rep{k}")
            ax[1].plot(helix[:n], lw=0.8)
        tab.flush()
    ax[0].set_ylabel("RMSD (Å)")
    ax[1].set_ylabel("helix fraction")
    ax[1].set_xlabel(f"frame (stride {args.stride})")
    ax[0].legend(ncol=4, fontsize=7)
    fig.savefig(os.path.join(args.rundir, "features.png"), dpi=150)


if __name__ == "__main__":
    main()
