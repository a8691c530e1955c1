"""Count heatwave days per year and ensemble member; write a NetCDF file per region."""

import argparse

import netCDF4  # noqa: F401  (fail early when the netcdf4 engine is missing)

from climkit import heatwave_days, open_ensemble
from climkit.io import open_ensemble as _open  # noqa: F401


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--threshold", type=float, default=303.15)
    ap.add_argument("--out", default="heatwave_days.nc")
    args = ap.parse_args()

    ds = open_ensemble(args.folder)
    days = heatwave_days(ds["tasmax"], args.threshold)
    days.to_netcdf(args.out)
    print(days.mean("member").to_series().describe())


if __name__ == "__main__":
    main()
