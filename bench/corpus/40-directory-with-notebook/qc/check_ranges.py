"""Sanity checks on the downloaded SST file: value ranges and missing months."""

import netCDF4
import numpy as np
import pandas as pd


def check(path="data/sst_monthly.nc"):
    with netCDF4.Dataset(path) as nc:
        sst = nc.variables["sst"][:]
        times = netCDF4.num2date(nc.variables["time"][:], nc.variables["time"].units)
    months = pd.DatetimeIndex([t.isoformat() for t in times])
    expected = pd.date_range(months.min(), months.max(), freq="MS")
    missing = expected.difference(months)
    print(f"range {np.nanmin(sst):.2f} .. {np.nanmax(sst):.2f} degC; {len(missing)} missing months")
    return len(missing) == 0 and -2.5 < np.nanmin(sst) and np.nanmax(sst) < 40


if __name__ == "__main__":
    raise SystemExit(0 if check() else 1)
