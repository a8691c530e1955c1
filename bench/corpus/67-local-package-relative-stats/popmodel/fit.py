import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from patsy import dmatrices
from scipy.optimize import curve_fit

from . import io as _io  # noqa: F401  (re-exported for notebooks)
from .symbolic import logistic


def _fit_one(df):
    y, X = dmatrices("np.log(count) ~ hours", df, return_type="dataframe")
    ols = sm.OLS(y, X).fit()
    p0 = (df["count"].max() * 1.2, max(ols.params["hours"], 1e-3), df["count"].min())
    (K, r, n0), cov = curve_fit(logistic, df["hours"], df["count"], p0=p0, maxfev=20000)
    return {"capacity": K, "rate": r, "n0": n0, "rate_se": float(np.sqrt(cov[1, 1])), "ols_r2": ols.rsquared}


def fit_all(counts):
    rows = [dict(plate=plate, **_fit_one(df)) for plate, df in counts.groupby("plate")]
    fits = pd.DataFrame(rows)
    mixed = smf.mixedlm("np.log(count) ~ hours", counts, groups=counts["plate"]).fit()
    fits["pooled_rate"] = mixed.params["hours"]
    return fits
