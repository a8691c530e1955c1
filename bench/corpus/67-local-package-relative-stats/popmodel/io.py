from pathlib import Path

import pandas as pd


def load_counts(paths):
    frames = []
    for p in paths:
        df = pd.read_csv(p, comment="#")
        df["plate"] = Path(p).stem
        frames.append(df)
    counts = pd.concat(frames, ignore_index=True)
    return counts[counts["count"] > 0]
