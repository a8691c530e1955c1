"""Symmetry screen + EMT relaxation of candidate alloys, fanned out over SLURM with Parsl."""
import json
import sys
from pathlib import Path

import numpy as np
import parsl
import spglib
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import write
from ase.optimize import BFGS
from parsl import python_app
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.launchers import SrunLauncher
from parsl.providers import SlurmProvider
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

ELEMENTS = ["Cu", "Ag", "Au", "Ni", "Pd", "Pt", "Al"]


def cluster_config(partition="cpu", nodes=4):
    provider = SlurmProvider(
        partition=partition, nodes_per_block=nodes, init_blocks=1, max_blocks=1,
        walltime="02:00:00", launcher=SrunLauncher(),
        worker_init="module load python/3.11; source ~/venvs/screen/bin/activate",
    )
    return Config(executors=[HighThroughputExecutor(label="htex", provider=provider, cores_per_worker=1)])


@python_app
def relax(a, b, lattice=3.8):
    # runs on a worker: imports must be available there too
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.optimize import BFGS
    atoms = bulk(a, "fcc", a=lattice, cubic=True)
    atoms[0].symbol = b
    atoms.calc = EMT()
    BFGS(atoms, logfile=None).run(fmax=0.02, steps=200)
    return atoms.get_potential_energy() / len(atoms), atoms.cell.array.tolist(), atoms.get_scaled_positions().tolist(), atoms.numbers.tolist()


def symmetry(cell, positions, numbers):
    ds = spglib.get_symmetry_dataset((np.array(cell), np.array(positions), numbers), symprec=1e-3)
    return ds.international if ds is not None else "P1"


def main(outdir="screen_out"):
    parsl.load(cluster_config())
    out = Path(outdir)
    out.mkdir(exist_ok=True)
    futures = {(a, b): relax(a, b) for a in ELEMENTS for b in ELEMENTS if a != b}
    results = {}
    for (a, b), fut in futures.items():
        e, cell, pos, nums = fut.result()
        atoms = bulk(a, "fcc", cubic=True)
        atoms.set_cell(cell)
        atoms.set_scaled_positions(pos)
        atoms.set_atomic_numbers(nums)
        struct: Structure = AseAtomsAdaptor.get_structure(atoms)
        results[f"{a}3{b}"] = {"e_per_atom": e, "spacegroup": symmetry(cell, pos, nums), "density": struct.density}
        write(out / f"{a}3{b}.cif", atoms)
    (out / "summary.json").write_text(json.dumps(results, indent=1))
    _ = (EMT, BFGS)


if __name__ == "__main__":
    main(*sys.argv[1:])
