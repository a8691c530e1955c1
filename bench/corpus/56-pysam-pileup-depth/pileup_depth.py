#!/usr/bin/env python
"""Per-base depth and allele counts over target regions, one BAM per SLURM array task.

    sbatch --array=0-95 run_depth.sh   # calls: python pileup_depth.py samples.tsv $SLURM_ARRAY_TASK_ID
"""
import argparse
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
from pyfaidx import Fasta
from Bio.SeqUtils import gc_fraction


def load_targets(bed_path):
    bed = pd.read_csv(bed_path, sep="\t", header=None, usecols=[0, 1, 2], names=["chrom", "start", "end"])
    return bed.itertuples(index=False)


def region_stats(bam, ref, chrom, start, end, min_mapq=20):
    depth = np.zeros(end - start, dtype=np.int32)
    alt = np.zeros(end - start, dtype=np.int32)
    seq = ref[chrom][start:end].seq.upper()
    for col in bam.pileup(chrom, start, end, truncate=True, min_mapping_quality=min_mapq, stepper="nofilter"):
        i = col.reference_pos - start
        bases = Counter(b.upper() for b in col.get_query_sequences(add_indels=False) if b)
        depth[i] = sum(bases.values())
        alt[i] = depth[i] - bases.get(seq[i], 0)
    return {
        "chrom": chrom, "start": start, "end": end,
        "gc": gc_fraction(seq),
        "mean_depth": float(depth.mean()),
        "frac_20x": float((depth >= 20).mean()),
        "max_alt_af": float(np.max(np.divide(alt, depth, out=np.zeros(len(depth)), where=depth > 0))),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("samples")
    ap.add_argument("index", type=int, nargs="?", default=int(os.environ.get("SLURM_ARRAY_TASK_ID", 0)))
    ap.add_argument("--ref", default="/ref/GRCh38/genome.fa")
    ap.add_argument("--bed", default="panel_targets.bed")
    ap.add_argument("--out", default="depth")
    args = ap.parse_args()

    samples = pd.read_csv(args.samples, sep="\t")
    row = samples.iloc[args.index]
    ref = Fasta(args.ref, as_raw=False, sequence_always_upper=True)
    rows = []
    with pysam.AlignmentFile(row.bam, "rb", reference_filename=args.ref) as bam:
        for chrom, start, end in load_targets(args.bed):
            rows.append(region_stats(bam, ref, chrom, start, end))
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    pd.DataFrame(rows).to_csv(out / f"{row.sample_id}.depth.tsv", sep="\t", index=False)
    print(f"{row.sample_id}: {len(rows)} regions", file=sys.stderr)


if __name__ == "__main__":
    main()
