"""MCMC fit of a two-parameter power law to the angular power spectrum of a HEALPix map.

    srun -n 64 python fit_cl.py map_nside512.fits --mpi
"""
import argparse
import sys

import corner
import emcee
import healpy as hp
import matplotlib
import numpy as np
from astropy.io import fits

matplotlib.use("Agg")
import matplotlib.pyplot as plt

try:
    from schwimmbad import MPIPool
except ImportError:  # serial fallback on a laptop
    MPIPool = None


def model(ell, amp, slope, ell0=100.0):
    return amp * (ell / ell0) ** slope


def log_prob(theta, ell, cl, sigma):
    amp, slope = theta
    if not (0 < amp < 1e3 and -4 < slope < 1):
        return -np.inf
    return -0.5 * np.sum(((cl - model(ell, amp, slope)) / sigma) ** 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("map")
    ap.add_argument("--lmax", type=int, default=768)
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--mpi", action="store_true")
    args = ap.parse_args()

    m = hp.read_map(args.map, field=0)
    mask = fits.getdata(args.map.replace(".fits", "_mask.fits")).astype(bool) if "--mask" in sys.argv else np.ones_like(m, bool)
    m = hp.remove_dipole(np.where(mask, m, hp.UNSEEN))
    cl = hp.anafast(m, lmax=args.lmax) / mask.mean()
    ell = np.arange(len(cl))[30:]
    cl = cl[30:]
    sigma = cl * np.sqrt(2.0 / (2 * ell + 1))

    ndim, nwalkers = 2, 32
    p0 = np.array([10.0, -1.0]) + 1e-3 * np.random.randn(nwalkers, ndim)
    if args.mpi and MPIPool is not None:
        with MPIPool() as pool:
            if not pool.is_master():
                pool.wait()
                sys.exit(0)
            sampler = emcee.EnsembleSampler(nwalkers, ndim, log_prob, args=(ell, cl, sigma), pool=pool)
            sampler.run_mcmc(p0, args.steps, progress=False)
    else:
        sampler = emcee.EnsembleSampler(nwalkers, ndim, log_prob, args=(ell, cl, sigma))
        sampler.run_mcmc(p0, args.steps, progress=True)

    chain = sampler.get_chain(discard=args.steps // 4, thin=10, flat=True)
    np.save("chain.npy", chain)
    fig = corner.corner(chain, labels=["A", "n"], quantiles=[0.16, 0.5, 0.84], show_titles=True)
    fig.savefig("corner.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
