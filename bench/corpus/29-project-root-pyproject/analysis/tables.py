import pandas as pd

from .weights import rake


def weighted_share(df, question, margins):
    w = rake(df, margins)
    return (w.groupby(df[question]).sum() / w.sum()).sort_values(ascending=False)


def crosstab(df, a, b, weights):
    return pd.crosstab(df[a], df[b], values=weights, aggfunc="sum", normalize="index")
