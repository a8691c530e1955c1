"""Segment nuclei in fluorescence images and export per-cell features."""

from pathlib import Path as _Path
import sys

from numpy import linalg as la
from pandas import DataFrame, concat
from skimage import filters, io as skio, measure, morphology
from skimage.segmentation import watershed
from scipy import ndimage as ndi
from tifffile import imread as read_tiff


def segment(img):
    smooth = filters.gaussian(img, sigma=2)
    mask = smooth > filters.threshold_otsu(smooth)
    mask = morphology.remove_small_objects(mask, 64)
    distance = ndi.distance_transform_edt(mask)
    markers = measure.label(morphology.h_maxima(distance, 2))
    return watershed(-distance, markers, mask=mask)


def features(labels, img, name):
    props = measure.regionprops_table(labels, intensity_image=img,
                                      properties=("label", "area", "mean_intensity", "inertia_tensor"))
    df = DataFrame(props)
    tensors = df.filter(like="inertia_tensor").to_numpy().reshape(-1, 2, 2)
    df["elongation"] = [float(la.cond(t)) for t in tensors]
    df["image"] = name
    return df


def main(folder):
    frames = []
    for path in sorted(_Path(folder).glob("*.tif")):
        img = read_tiff(path) if path.stat().st_size > 4_000_000 else skio.imread(path)
        frames.append(features(segment(img), img, path.stem))
    concat(frames).to_csv("cells.csv", index=False)


if __name__ == "__main__":
    main(sys.argv[1])
