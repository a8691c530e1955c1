"""Zonal NDVI statistics per field polygon for every Sentinel-2 scene in a folder."""
import argparse
import glob
import os

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from pyproj import CRS, Transformer
from rasterio.mask import mask
from rasterio.warp import transform_bounds
from rasterstats import zonal_stats
from shapely.geometry import box, mapping


def ndvi(scene_dir):
    red_path = glob.glob(os.path.join(scene_dir, "*_B04_10m.jp2"))[0]
    nir_path = glob.glob(os.path.join(scene_dir, "*_B08_10m.jp2"))[0]
    with rasterio.open(red_path) as red, rasterio.open(nir_path) as nir:
        r = red.read(1).astype("float32")
        n = nir.read(1).astype("float32")
        profile = red.profile
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (n - r) / (n + r)
    profile.update(driver="GTiff", dtype="float32", count=1, nodata=np.nan, compress="deflate")
    out = os.path.join(scene_dir, "ndvi.tif")
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(v, 1)
    return out


def field_stats(fields, tif):
    with rasterio.open(tif) as src:
        fields = fields.to_crs(src.crs)
        bounds = box(*src.bounds)
        inside = fields[fields.intersects(bounds)]
        clipped, _ = mask(src, [mapping(bounds)], crop=True)
        scene_crs = CRS.from_user_input(src.crs)
        wgs = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    stats = zonal_stats(inside, tif, stats=["mean", "median", "std", "count"], nodata=np.nan)
    df = pd.DataFrame(stats, index=inside.index)
    to_utm = Transformer.from_crs("EPSG:4326", scene_crs, always_xy=True)
    df["scene_center_utm"] = [to_utm.transform((wgs[0] + wgs[2]) / 2, (wgs[1] + wgs[3]) / 2)] * len(df)
    df["valid_frac"] = float(np.isfinite(clipped).mean())
    return inside[["field_id"]].join(df)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fields", help="GeoPackage with field polygons")
    ap.add_argument("scenes", help="folder of unpacked .SAFE granule IMG_DATA/R10m folders")
    ap.add_argument("--out", default="ndvi_fields.parquet")
    args = ap.parse_args()
    fields = gpd.read_file(args.fields)
    frames = []
    for scene in sorted(glob.glob(os.path.join(args.scenes, "*"))):
        df = field_stats(fields, ndvi(scene))
        df["scene"] = os.path.basename(scene)
        frames.append(df)
    pd.concat(frames).to_parquet(args.out)


if __name__ == "__main__":
    main()
