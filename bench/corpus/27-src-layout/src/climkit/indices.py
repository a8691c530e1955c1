import numpy as np
import xarray as xr


def heatwave_days(tasmax: xr.DataArray, threshold_k: float = 303.15, min_len: int = 3) -> xr.DataArray:
    hot = (tasmax > threshold_k).astype(np.int8)
    run = hot.rolling(time=min_len).sum() >= min_len
    return run.groupby("time.year").sum("time")
