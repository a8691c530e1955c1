"""MPI-parallel halo statistics: each rank reads a slab of an HDF5 snapshot, rank 0 reduces."""

import sys

import h5py
import numpy as np
from mpi4py import MPI

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()


def my_slab(n_total: int) -> slice:
    per = (n_total + size - 1) // size
    return slice(rank * per, min(n_total, (rank + 1) * per))


def main(snapshot: str, bins: int = 40) -> None:
    with h5py.File(snapshot, "r", driver="mpio", comm=comm) as f:
        masses = f["halos/mass"]
        part = masses[my_slab(masses.shape[0])]
    edges = np.logspace(10, 15, bins + 1)
    local_hist, _ = np.histogram(part, bins=edges)
    total = np.zeros_like(local_hist) if rank == 0 else None
    comm.Reduce(local_hist, total, op=MPI.SUM, root=0)
    local_max = comm.allreduce(float(part.max(initial=0.0)), op=MPI.MAX)
    if rank == 0:
        centres = np.sqrt(edges[1:] * edges[:-1])
        np.savetxt("mass_function.txt", np.column_stack([centres, total]), header="M_sun count")
        print(f"{size} ranks, {total.sum()} halos, heaviest {local_max:.3e} M_sun")


if __name__ == "__main__":
    main(sys.argv[1])
