import numpy as np


def summary(values: "np.ndarray") -> dict:
    return {"n": int(values.size), "mean": float(values.mean()), "std": float(values.std())}
