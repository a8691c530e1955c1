import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def save(x, y, result, path):
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(x, y, ".", ms=2, label="data")
    ax.plot(x, result.fit.best_fit, lw=1, label="fit")
    ax.legend()
    fig.savefig(path, dpi=110)
    plt.close(fig)
