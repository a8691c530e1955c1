"""Convert a year of daily CMIP6 netCDF output on S3 into one time-chunked Zarr store.

Runs on a PBS node with a local dask cluster:
    qsub -l select=1:ncpus=32:mem=200gb -- python rechunk_to_zarr.py tas 2015
"""
import os
import sys
import time

import cftime
import dask
import dask.array as da
import numpy as np
import s3fs
import xarray as xr
import zarr
from dask.distributed import Client, LocalCluster, performance_report
from numcodecs import Blosc

BUCKET = "s3://climate-archive/cmip6/ssp585/day"
STORE = "/scratch/$USER/zarr/{var}_{year}.zarr"


def open_year(fs, var, year):
    paths = sorted(fs.glob(f"{BUCKET}/{var}/{var}_day_*_{year}*.nc"))
    files = [fs.open(p, mode="rb") for p in paths]
    ds = xr.open_mfdataset(files, engine="h5netcdf", combine="by_coords", chunks={"time": 30}, use_cftime=True)
    return ds


def main(var, year):
    year = int(year)
    cluster = LocalCluster(n_workers=8, threads_per_worker=4, memory_limit="24GiB")
    client = Client(cluster)
    fs = s3fs.S3FileSystem(anon=False, default_block_size=64 * 2**20)
    ds = open_year(fs, var, year)

    start = cftime.DatetimeNoLeap(year, 1, 1)
    end = cftime.DatetimeNoLeap(year, 12, 31)
    ds = ds.sel(time=slice(start, end))
    ds[var] = ds[var].chunk({"time": -1, "lat": 90, "lon": 180}).astype(np.float32)
    anomaly = ds[var] - ds[var].mean("time")
    q99 = da.percentile(anomaly.data.ravel()[::97], 99).compute()
    ds.attrs["anomaly_q99"] = float(q99[0])

    compressor = Blosc(cname="zstd", clevel=5, shuffle=Blosc.BITSHUFFLE)
    encoding = {var: {"compressor": compressor, "chunks": (ds.sizes["time"], 90, 180)}}
    store = os.path.expandvars(STORE.format(var=var, year=year))
    t0 = time.time()
    with performance_report(filename=f"dask-report-{var}-{year}.html"), dask.config.set(scheduler=client):
        ds.to_zarr(store, mode="w", encoding=encoding, consolidated=True)
    zarr.consolidate_metadata(store)
    print(zarr.open_group(store, mode="r").tree(), f"{time.time() - t0:.0f}s")
    client.close()


if __name__ == "__main__":
    main(*sys.argv[1:3])
