import numpy as np
import pandas as pd


def rake(df: pd.DataFrame, margins: dict[str, dict[str, float]], iters: int = 50) -> pd.Series:
    w = pd.Series(1.0, index=df.index)
    for _ in range(iters):
        for col, target in margins.items():
            current = w.groupby(df[col]).sum() / w.sum()
            w *= df[col].map({k: target[k] / current[k] for k in target}).fillna(1.0)
    return w * len(df) / w.sum() if np.isfinite(w).all() else w
