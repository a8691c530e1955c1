"""Helpers for decay_fits.ipynb."""

import numpy as np
from scipy.optimize import curve_fit


def load_traces(path):
    data = np.load(path)
    return data["t"], data["traces"]


def model(t, amplitude, tau, offset):
    return amplitude * np.exp(-t / tau) + offset


def fit_decay(t, y):
    p0 = (y[0] - y[-1], (t[-1] - t[0]) / 5, y[-1])
    popt, pcov = curve_fit(model, t, y, p0=p0, maxfev=10_000)
    perr = np.sqrt(np.diag(pcov))
    return {"amplitude": popt[0], "tau": popt[1], "offset": popt[2], "tau_err": perr[1]}
