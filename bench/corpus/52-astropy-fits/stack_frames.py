"""Sigma-clipped stack of calibrated FITS frames with WCS alignment, plus a SIMBAD lookup."""

import glob
import sys

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.stats import sigma_clip
from astropy.wcs import WCS
from astroquery.simbad import Simbad
from reproject import reproject_interp


def main(pattern: str, out: str = "stack.fits") -> None:
    paths = sorted(glob.glob(pattern))
    ref_header = fits.getheader(paths[0])
    ref_wcs = WCS(ref_header)
    cube = []
    for path in paths:
        with fits.open(path) as hdul:
            data, _ = reproject_interp(hdul[0], ref_header)
            cube.append(data)
    clipped = sigma_clip(np.array(cube), sigma=3, axis=0)
    stacked = clipped.mean(axis=0).filled(np.nan)
    fits.PrimaryHDU(stacked.astype(np.float32), header=ref_wcs.to_header()).writeto(out, overwrite=True)

    centre = ref_wcs.pixel_to_world(stacked.shape[1] / 2, stacked.shape[0] / 2)
    centre = SkyCoord(centre.ra, centre.dec, frame="icrs")
    nearby = Simbad.query_region(centre, radius=5 * u.arcmin)
    print(f"stacked {len(paths)} frames; {0 if nearby is None else len(nearby)} SIMBAD objects in field")


if __name__ == "__main__":
    main(*sys.argv[1:])
