from pathlib import Path

import xarray as xr


def open_ensemble(folder: str | Path, variable: str = "tasmax") -> xr.Dataset:
    files = sorted(Path(folder).glob(f"{variable}_*.nc"))
    return xr.open_mfdataset(files, combine="nested", concat_dim="member", engine="netcdf4", chunks={"time": 365})
