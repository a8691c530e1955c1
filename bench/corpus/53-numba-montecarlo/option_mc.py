"""Monte Carlo pricing of Asian options with numba-compiled parallel kernels."""

import math
import sys
import time

import numba as nb
import numpy as np
from numba import njit, prange


@njit(parallel=True, fastmath=True, cache=True)
def asian_call(s0, k, r, sigma, t, steps, paths, seed):
    np.random.seed(seed)
    dt = t / steps
    drift = (r - 0.5 * sigma * sigma) * dt
    vol = sigma * math.sqrt(dt)
    payoff = np.empty(paths)
    for p in prange(paths):
        s = s0
        acc = 0.0
        for _ in range(steps):
            s *= math.exp(drift + vol * np.random.standard_normal())
            acc += s
        payoff[p] = max(acc / steps - k, 0.0)
    return math.exp(-r * t) * payoff.mean(), payoff.std() / math.sqrt(paths)


def main(paths: int = 2_000_000) -> None:
    print(f"numba {nb.__version__}, {nb.get_num_threads()} threads")
    asian_call(100.0, 100.0, 0.02, 0.2, 1.0, 8, 1000, 0)  # compile
    t0 = time.perf_counter()
    price, err = asian_call(100.0, 100.0, 0.02, 0.2, 1.0, 252, paths, 42)
    print(f"price {price:.4f} +- {err:.4f} in {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main(*map(int, sys.argv[1:2]))
