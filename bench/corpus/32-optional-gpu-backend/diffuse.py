"""2-D heat diffusion on a grid; runs on the GPU with CuPy when it is installed."""

import argparse
import time

try:
    import cupy as xp

    GPU = True
except ImportError:
    import numpy as xp

    GPU = False

import numpy as np


def step(u, alpha, dt, dx):
    lap = (
        xp.roll(u, 1, 0) + xp.roll(u, -1, 0) + xp.roll(u, 1, 1) + xp.roll(u, -1, 1) - 4 * u
    ) / dx**2
    return u + alpha * dt * lap


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=500)
    args = ap.parse_args()

    u = xp.zeros((args.n, args.n), dtype=xp.float32)
    u[args.n // 2 - 10 : args.n // 2 + 10, args.n // 2 - 10 : args.n // 2 + 10] = 100.0
    t0 = time.perf_counter()
    for _ in range(args.steps):
        u = step(u, alpha=1e-4, dt=0.1, dx=1e-2)
    result = u.get() if GPU else u
    print(f"{'GPU' if GPU else 'CPU'}: {time.perf_counter() - t0:.2f} s, max {np.max(result):.3f}")
    np.save("final_field.npy", result)


if __name__ == "__main__":
    main()
