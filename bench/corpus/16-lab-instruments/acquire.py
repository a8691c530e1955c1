"""Acquire spectra from a serial spectrometer and a USB shutter, save as HDF5 + PNG preview."""

import argparse
import struct
import time

import h5py
import matplotlib.pyplot as plt
import numpy as np
import serial
import usb.core
import usb.util

SHUTTER_VID, SHUTTER_PID = 0x16C0, 0x05DC


def open_shutter(dev, state: bool) -> None:
    dev.ctrl_transfer(0x40, 0x01, int(state), 0, None)


def read_spectrum(port: serial.Serial, pixels: int = 2048) -> np.ndarray:
    port.write(b"S\r")
    raw = port.read(pixels * 2)
    return np.array(struct.unpack(f"<{pixels}H", raw), dtype=np.uint16)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", default="/dev/ttyUSB0")
    ap.add_argument("--shots", type=int, default=10)
    ap.add_argument("--out", default="spectra.h5")
    args = ap.parse_args()

    shutter = usb.core.find(idVendor=SHUTTER_VID, idProduct=SHUTTER_PID)
    if shutter is None:
        raise SystemExit("shutter not found")
    with serial.Serial(args.port, 115200, timeout=2) as port, h5py.File(args.out, "w") as h5:
        data = h5.create_dataset("spectra", (args.shots, 2048), dtype="u2")
        for i in range(args.shots):
            open_shutter(shutter, True)
            time.sleep(0.05)
            data[i] = read_spectrum(port)
            open_shutter(shutter, False)
        data.attrs["acquired"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        plt.plot(np.asarray(data).mean(axis=0))
    usb.util.dispose_resources(shutter)
    plt.savefig(args.out.replace(".h5", ".png"))


if __name__ == "__main__":
    main()
