import numpy as np
from lmfit.models import ConstantModel, LorentzianModel
from scipy.signal import find_peaks


class Result:
    def __init__(self, fit, n):
        self.fit = fit
        self.params = {"centers": [fit.params[f"l{i}_center"].value for i in range(n)]}


def fit_lines(x: np.ndarray, y: np.ndarray, n_lines: int = 2) -> Result:
    guess, _ = find_peaks(y, prominence=np.ptp(y) * 0.1)
    model = ConstantModel(prefix="bg_")
    for i in range(n_lines):
        model = model + LorentzianModel(prefix=f"l{i}_")
    params = model.make_params(bg_c=float(np.median(y)))
    for i in range(n_lines):
        center = x[guess[i]] if i < len(guess) else x.mean()
        params[f"l{i}_center"].set(value=center)
        params[f"l{i}_amplitude"].set(value=float(np.ptp(y)), min=0)
        params[f"l{i}_sigma"].set(value=(x[-1] - x[0]) / 50, min=0)
    return Result(model.fit(y, params, x=x), n_lines)
