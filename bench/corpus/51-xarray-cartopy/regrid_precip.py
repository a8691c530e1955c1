"""Regrid daily precipitation to a 0.25 degree grid and map the seasonal totals."""

import sys

import cartopy.crs as ccrs
import cartopy.feature as cfeature
import cftime
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
import xesmf as xe


def seasonal_totals(ds: xr.Dataset) -> xr.DataArray:
    pr = ds["pr"] * 86400.0  # kg m-2 s-1 -> mm/day
    return pr.resample(time="QS-DEC").sum()


def main(path: str) -> None:
    ds = xr.open_dataset(path, use_cftime=True)
    target = xr.Dataset({"lat": (["lat"], np.arange(-60, 85, 0.25)), "lon": (["lon"], np.arange(-180, 180, 0.25))})
    regridder = xe.Regridder(ds, target, "conservative", periodic=True)
    totals = seasonal_totals(regridder(ds))
    start = cftime.DatetimeNoLeap(2000, 12, 1)
    djf = totals.sel(time=slice(start, None)).isel(time=0)

    ax = plt.axes(projection=ccrs.PlateCarree())
    djf.plot(ax=ax, transform=ccrs.PlateCarree(), cmap="Blues", robust=True)
    ax.add_feature(cfeature.COASTLINE, linewidth=0.5)
    ax.add_feature(cfeature.BORDERS, linewidth=0.3)
    plt.savefig("djf_precip.png", dpi=150, bbox_inches="tight")
    totals.to_netcdf("seasonal_totals_025.nc")


if __name__ == "__main__":
    main(sys.argv[1])
