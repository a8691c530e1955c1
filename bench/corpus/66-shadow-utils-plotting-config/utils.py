import itertools
import random

import numpy as np
from scipy.integrate import solve_ivp


def grid_points(grid):
    keys = sorted(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def set_seed(seed):
    random.seed(seed)
    np.random.seed(seed)


def simulate(params, n_steps, dt):
    kappa, gamma = params["kappa"], params["gamma"]

    def rhs(t, y):
        x, v = y
        return [v, -kappa * x - gamma * v + 0.1 * np.random.randn()]

    t = np.arange(n_steps) * dt
    sol = solve_ivp(rhs, (0, t[-1]), [1.0, 0.0], t_eval=t, max_step=dt * 10)
    energy = 0.5 * sol.y[1] ** 2 + 0.5 * kappa * sol.y[0] ** 2
    return np.column_stack([energy, sol.y[0]])
