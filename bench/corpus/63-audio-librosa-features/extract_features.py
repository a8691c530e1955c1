"""Loudness-normalise field recordings, denoise them and dump MFCC/onset features.

    ls /data/birdsong/*.flac | split -n l/$SLURM_ARRAY_TASK_COUNT ...  # one list per task
    python extract_features.py filelist_07.txt --out feats/
"""
import argparse
import os
import warnings

import librosa
import noisereduce as nr
import numpy as np
import pandas as pd
import pyloudnorm as pyln
import soundfile as sf
from scipy.signal import butter, sosfiltfilt

TARGET_SR = 32000
TARGET_LUFS = -23.0


def highpass(y, sr, cutoff=300.0):
    sos = butter(4, cutoff, btype="highpass", fs=sr, output="sos")
    return sosfiltfilt(sos, y)


def process(path, out_dir):
    y, sr = sf.read(path, always_2d=False)
    if y.ndim > 1:
        y = y.mean(axis=1)
    meter = pyln.Meter(sr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = pyln.normalize.loudness(y, meter.integrated_loudness(y), TARGET_LUFS)
    y = librosa.resample(highpass(y, sr), orig_sr=sr, target_sr=TARGET_SR)
    y = nr.reduce_noise(y=y, sr=TARGET_SR, stationary=False, prop_decrease=0.8)

    mfcc = librosa.feature.mfcc(y=y, sr=TARGET_SR, n_mfcc=20, hop_length=320)
    onsets = librosa.onset.onset_detect(y=y, sr=TARGET_SR, units="time")
    centroid = librosa.feature.spectral_centroid(y=y, sr=TARGET_SR)
    base = os.path.splitext(os.path.basename(path))[0]
    np.save(os.path.join(out_dir, f"{base}_mfcc.npy"), mfcc.astype(np.float32))
    sf.write(os.path.join(out_dir, f"{base}_clean.flac"), y, TARGET_SR, subtype="PCM_16")
    return {
        "file": base,
        "duration_s": len(y) / TARGET_SR,
        "n_onsets": len(onsets),
        "onset_rate": len(onsets) / max(len(y) / TARGET_SR, 1e-9),
        "centroid_hz": float(np.median(centroid)),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("filelist")
    ap.add_argument("--out", default="feats")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with open(args.filelist) as fh:
        paths = [line.strip() for line in fh if line.strip()]
    rows = [process(p, args.out) for p in paths]
    name = os.path.splitext(os.path.basename(args.filelist))[0]
    pd.DataFrame(rows).to_csv(os.path.join(args.out, f"{name}_summary.csv"), index=False)


if __name__ == "__main__":
    main()
