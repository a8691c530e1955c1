import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def heatmap(df, x, y, value, path):
    table = df.pivot(index=y, columns=x, values=value)
    fig, ax = plt.subplots(figsize=(6, 5))
    im = ax.imshow(table.values, origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(table.columns)), [f"{c:g}" for c in table.columns])
    ax.set_yticks(range(len(table.index)), [f"{i:g}" for i in table.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    fig.colorbar(im, label=value)
    fig.savefig(path, dpi=150, bbox_inches="tight")
