"""Compute RDKit descriptors + Morgan fingerprints for a SMILES library in parallel chunks.

    python featurize.py library.smi.gz --chunk 0 --nchunks 200 --jobs $SLURM_CPUS_PER_TASK
"""
import argparse
import gzip
import logging

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from rdkit import Chem, RDLogger
from rdkit.Chem import AllChem, Descriptors, rdMolDescriptors
from rdkit.Chem.Scaffolds import MurckoScaffold
from tqdm.auto import tqdm

RDLogger.DisableLog("rdApp.*")
log = logging.getLogger("featurize")

DESCRIPTORS = ["MolWt", "MolLogP", "TPSA", "NumHDonors", "NumHAcceptors", "NumRotatableBonds"]


def featurize(smiles, radius=2, nbits=2048):
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    row = {name: getattr(Descriptors, name)(mol) for name in DESCRIPTORS}
    row["n_rings"] = rdMolDescriptors.CalcNumRings(mol)
    row["scaffold"] = MurckoScaffold.MurckoScaffoldSmiles(mol=mol)
    fp = AllChem.GetMorganFingerprintAsBitVect(mol, radius, nBits=nbits)
    row["fp"] = np.packbits(np.array(list(fp), dtype=np.uint8)).tobytes()
    return row


def read_chunk(path, chunk, nchunks):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as fh:
        for i, line in enumerate(fh):
            if i % nchunks == chunk:
                smi, *rest = line.split()
                yield smi, (rest[0] if rest else f"mol{i}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("library")
    ap.add_argument("--chunk", type=int, default=0)
    ap.add_argument("--nchunks", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=4)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO)

    items = list(read_chunk(args.library, args.chunk, args.nchunks))
    rows = Parallel(n_jobs=args.jobs, batch_size=256)(
        delayed(featurize)(smi) for smi, _ in tqdm(items, mininterval=30)
    )
    df = pd.DataFrame([dict(r, id=mid) for r, (_, mid) in zip(rows, items) if r is not None])
    log.info("chunk %d: %d/%d molecules parsed", args.chunk, len(df), len(items))
    df.to_parquet(f"features_{args.chunk:04d}.parquet", index=False)


if __name__ == "__main__":
    main()
