import numpy as np
import sympy as sp

t, K, r, n0 = sp.symbols("t K r n0", positive=True)
LOGISTIC = K / (1 + (K - n0) / n0 * sp.exp(-r * t))


def logistic(hours, K_, r_, n0_):
    return K_ / (1 + (K_ - n0_) / n0_ * np.exp(-r_ * hours))


def doubling_time_expr():
    td = sp.solve(sp.Eq(n0 * sp.exp(r * t), 2 * n0), t)[0]
    return sp.simplify(td), sp.lambdify(r, td, modules="numpy")
