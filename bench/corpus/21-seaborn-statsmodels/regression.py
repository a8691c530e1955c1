"""Fit an OLS model with interaction terms and plot partial residuals per predictor."""

import sys

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.stats.outliers_influence import variance_inflation_factor


def vif_table(df: pd.DataFrame, cols: list[str]) -> pd.Series:
    X = sm.add_constant(df[cols])
    return pd.Series(
        [variance_inflation_factor(X.values, i) for i in range(1, X.shape[1])], index=cols, name="VIF"
    )


def main(path: str) -> None:
    df = pd.read_csv(path).dropna()
    model = smf.ols("yield_t ~ rainfall * temperature + C(soil) + fertiliser", data=df).fit()
    print(model.summary())
    print(vif_table(df, ["rainfall", "temperature", "fertiliser"]))

    sns.set_theme(style="ticks", context="paper")
    fig, axes = plt.subplots(1, 3, figsize=(12, 4), sharey=True)
    for ax, col in zip(axes, ["rainfall", "temperature", "fertiliser"]):
        partial = model.resid + model.params[col] * df[col]
        sns.regplot(x=df[col], y=partial, ax=ax, lowess=True, scatter_kws={"s": 8, "alpha": 0.5})
        ax.set_ylabel("partial residual")
    sns.despine(fig)
    fig.savefig("partial_residuals.pdf")


if __name__ == "__main__":
    main(sys.argv[1])
