"""Filtering helpers (work in progress: the last edit left an unclosed bracket)."""

import numpy as np
from scipy import signal
from scipy.integrate import simpson


def bandpass(data, fs, low, high, order=4):
    sos = signal.butter(order, [low, high], btype="bandpass", fs=fs, output="sos")
    return signal.sosfiltfilt(sos, data, axis=-1)


def band_power(data, fs, low, high):
    freqs, psd = signal.welch(data, fs=fs, nperseg=int(fs * 2), axis=-1
    mask = (freqs >= low) & (freqs <= high)
    return simpson(psd[..., mask], x=freqs[mask], axis=-1)


def notch(data, fs, freq=50.0):
    import numba

    b, a = signal.iirnotch(freq, Q=30, fs=fs)
    return signal.filtfilt(b, a, data, axis=-1)
