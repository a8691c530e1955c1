"""Download monthly SST fields for a year range (OPeNDAP) into data/."""

import sys
from pathlib import Path

import xarray as xr

URL = "https://psl.noaa.gov/thredds/dodsC/Datasets/noaa.ersst.v5/sst.mnmean.nc"


def main(start: str = "1991", end: str = "2023") -> None:
    out = Path(__file__).parent / "data"
    out.mkdir(exist_ok=True)
    with xr.open_dataset(URL, engine="netcdf4") as ds:
        ds.sel(time=slice(start, end)).to_netcdf(out / "sst_monthly.nc")


if __name__ == "__main__":
    main(*sys.argv[1:])
