"""GC content and ORF statistics for every record of a FASTA file, as a CSV table."""

import argparse

import pandas as pd
from Bio import SeqIO
from Bio.Seq import Seq
from Bio.SeqUtils import gc_fraction


def longest_orf(seq: Seq, min_aa: int = 50) -> int:
    best = 0
    for strand in (seq, seq.reverse_complement()):
        for frame in range(3):
            chunk = strand[frame:]
            chunk = chunk[: len(chunk) - len(chunk) % 3]
            for piece in str(chunk.translate()).split("*"):
                if len(piece) >= min_aa:
                    best = max(best, len(piece))
    return best


def summarise(path: str) -> pd.DataFrame:
    rows = []
    for rec in SeqIO.parse(path, "fasta"):
        rows.append(
            {
                "id": rec.id,
                "length": len(rec.seq),
                "gc": round(gc_fraction(rec.seq), 4),
                "longest_orf_aa": longest_orf(rec.seq),
            }
        )
    return pd.DataFrame(rows).sort_values("length", ascending=False)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("fasta")
    ap.add_argument("-o", "--out", default="gc_summary.csv")
    args = ap.parse_args()
    df = summarise(args.fasta)
    df.to_csv(args.out, index=False)
    print(df.describe())
